#include "tests/fakes/content_coding.h"

#include <zlib.h>

#include <cstdint>
#include <utility>

#include "brotli/encode.h"

namespace shadowcat {
namespace {

// zlib's windowBits for each coding: 15 plus 16 for the gzip wrapper,
// negative for raw data; 0 for codings zlib does not write.
int WindowBits(absl::string_view coding) {
  if (coding == "gzip" || coding == "x-gzip") return 15 + 16;
  if (coding == "deflate") return 15;
  if (coding == "deflate-raw") return -15;
  return 0;
}

}  // namespace

struct FlushedZlibStream::State {
  z_stream z{};
  ~State() { deflateEnd(&z); }
};

std::unique_ptr<FlushedZlibStream> FlushedZlibStream::Create(
    absl::string_view coding) {
  const int bits = WindowBits(coding);
  if (bits == 0) return nullptr;
  auto state = std::make_unique<State>();
  if (deflateInit2(&state->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return nullptr;
  }
  return std::unique_ptr<FlushedZlibStream>(
      new FlushedZlibStream(std::move(state)));
}

FlushedZlibStream::FlushedZlibStream(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

FlushedZlibStream::~FlushedZlibStream() = default;

std::string FlushedZlibStream::Write(absl::string_view data) {
  return Run(data, Z_SYNC_FLUSH);
}

std::string FlushedZlibStream::Finish(absl::string_view data) {
  return Run(data, Z_FINISH);
}

std::string FlushedZlibStream::Run(absl::string_view data, int flush) {
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[16 << 10];
  int rc = Z_OK;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof(buffer);
    rc = deflate(&z, flush);
    out.append(buffer, sizeof(buffer) - z.avail_out);
    // A full buffer may hide more output; Z_FINISH goes on to the end.
  } while (rc == Z_OK && (z.avail_out == 0 || flush == Z_FINISH));
  return out;
}

std::optional<std::string> EncodeContent(absl::string_view coding,
                                         absl::string_view data) {
  if (coding == "br") {
    std::string out(BrotliEncoderMaxCompressedSize(data.size()), '\0');
    size_t size = out.size();
    if (!BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW,
                               BROTLI_MODE_TEXT, data.size(),
                               reinterpret_cast<const uint8_t*>(data.data()),
                               &size, reinterpret_cast<uint8_t*>(out.data()))) {
      return std::nullopt;
    }
    out.resize(size);
    return out;
  }
  std::unique_ptr<FlushedZlibStream> stream = FlushedZlibStream::Create(coding);
  if (stream == nullptr) return std::nullopt;
  return stream->Finish(data);
}

}  // namespace shadowcat
