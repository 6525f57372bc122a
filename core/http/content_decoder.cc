#include "core/http/content_decoder.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "brotli/decode.h"
#include "core/common/status_macros.h"

namespace shadowcat {
namespace {

// A coding name from the upstream, safe and short for a message.
std::string Printable(absl::string_view text) {
  constexpr size_t kMax = 40;
  return absl::StrCat(absl::CHexEscape(text.substr(0, kMax)),
                      text.size() > kMax ? "..." : "");
}

// gzip and deflate on zlib's inflate.
class ZlibDecoder final : public ContentDecoder {
 public:
  enum class Format { kGzip, kDeflate };

  explicit ZlibDecoder(Format format)
      : ContentDecoder(format == Format::kGzip ? "gzip" : "deflate"),
        format_(format) {}

  ~ZlibDecoder() override {
    if (initialized_) inflateEnd(&z_);
  }

 private:
  // RFC 1950 2.2: CM 8 with a window of at most 32 KiB, and a check value
  // that makes the first two bytes a multiple of 31. Raw deflate data
  // (RFC 1951) rarely starts like that.
  static bool LooksLikeZlibHeader(absl::string_view in) {
    const auto cmf = static_cast<unsigned char>(in[0]);
    const auto flg = static_cast<unsigned char>(in[1]);
    return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
  }

  absl::Status Init(absl::string_view in) {
    int window_bits = 15 + 16;  // gzip wrapper only
    if (format_ == Format::kDeflate) {
      window_bits = LooksLikeZlibHeader(in) ? 15 : -15;
    }
    if (inflateInit2(&z_, window_bits) != Z_OK) {
      return absl::ResourceExhaustedError(
          absl::StrCat("no memory to decode a ", name(), " body"));
    }
    initialized_ = true;
    return absl::OkStatus();
  }

  absl::StatusOr<Step> Decode(absl::string_view in, char* out,
                              size_t size) override {
    if (!initialized_) {
      // deflate: the first two bytes tell the zlib wrapper from raw data.
      if (format_ == Format::kDeflate && in.size() < 2) return Step{};
      SC_RETURN_IF_ERROR(Init(in));
    }
    // zlib counts in uInt; the pieces here are a read buffer's size.
    const auto in_size =
        static_cast<uInt>(std::min<size_t>(in.size(), 1u << 30));
    const auto out_size = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = in_size;
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = out_size;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    Step step;
    step.consumed = in_size - z_.avail_in;
    step.produced = out_size - z_.avail_out;
    switch (rc) {
      case Z_OK:
      case Z_BUF_ERROR:  // no progress possible: more input is needed
        step.more_output = z_.avail_out == 0;
        return step;
      case Z_STREAM_END:
        step.ended = true;
        return step;
      case Z_NEED_DICT:
        return Corrupt("it needs a preset dictionary");
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError(
            absl::StrCat("no memory to decode a ", name(), " body"));
      default:
        return Corrupt(z_.msg != nullptr ? z_.msg : "invalid data");
    }
  }

  absl::Status NextMember() override {
    if (format_ != Format::kGzip) {
      return Corrupt("data after the end of the compressed stream");
    }
    if (inflateReset(&z_) != Z_OK) return Corrupt("cannot restart");
    return absl::OkStatus();
  }

  const Format format_;
  z_stream z_{};
  bool initialized_ = false;
};

// br on libbrotlidec.
class BrotliDecoder final : public ContentDecoder {
 public:
  BrotliDecoder()
      : ContentDecoder("br"),
        state_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)) {}

  bool ok() const { return state_ != nullptr; }

 private:
  struct Destroy {
    void operator()(BrotliDecoderState* state) const {
      BrotliDecoderDestroyInstance(state);
    }
  };

  absl::StatusOr<Step> Decode(absl::string_view in, char* out,
                              size_t size) override {
    size_t available_in = in.size();
    const auto* next_in = reinterpret_cast<const uint8_t*>(in.data());
    size_t available_out = size;
    auto* next_out = reinterpret_cast<uint8_t*>(out);
    const BrotliDecoderResult result =
        BrotliDecoderDecompressStream(state_.get(), &available_in, &next_in,
                                      &available_out, &next_out, nullptr);
    Step step;
    step.consumed = in.size() - available_in;
    step.produced = size - available_out;
    switch (result) {
      case BROTLI_DECODER_RESULT_SUCCESS:
        step.ended = true;
        return step;
      case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
        step.more_output = true;
        return step;
      case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
        return step;
      default:
        return Corrupt(
            BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state_.get())));
    }
  }

  absl::Status NextMember() override {
    return Corrupt("data after the end of the compressed stream");
  }

  std::unique_ptr<BrotliDecoderState, Destroy> state_;
};

}  // namespace

absl::string_view AcceptEncodingValue() { return "gzip, deflate, br"; }

absl::StatusOr<std::unique_ptr<ContentDecoder>> ContentDecoder::Create(
    absl::string_view content_encoding) {
  std::vector<std::string> codings;
  for (absl::string_view part : absl::StrSplit(content_encoding, ',')) {
    std::string coding =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
    if (coding.empty() || coding == "identity") continue;
    codings.push_back(std::move(coding));
  }
  if (codings.empty()) return nullptr;
  if (codings.size() > 1) {
    return absl::DataLossError(
        absl::StrCat("stacked Content-Encoding \"", Printable(content_encoding),
                     "\" is not supported (Shadowcat decodes one of ",
                     AcceptEncodingValue(), ")"));
  }
  const std::string& coding = codings.front();
  if (coding == "gzip" || coding == "x-gzip") {
    return std::make_unique<ZlibDecoder>(ZlibDecoder::Format::kGzip);
  }
  if (coding == "deflate") {
    return std::make_unique<ZlibDecoder>(ZlibDecoder::Format::kDeflate);
  }
  if (coding == "br") {
    auto decoder = std::make_unique<BrotliDecoder>();
    if (!decoder->ok()) {
      return absl::ResourceExhaustedError("no memory to decode a br body");
    }
    return decoder;
  }
  return absl::DataLossError(absl::StrCat(
      "Content-Encoding \"", Printable(coding),
      "\" is not supported (Shadowcat decodes ", AcceptEncodingValue(), ")"));
}

ContentDecoder::~ContentDecoder() = default;

void ContentDecoder::Feed(absl::string_view compressed) {
  if (compressed.empty()) return;
  if (offset_ > 0) {
    input_.erase(0, offset_);
    offset_ = 0;
  }
  input_.append(compressed.data(), compressed.size());
  fed_ = true;
  needs_input_ = false;
}

absl::StatusOr<size_t> ContentDecoder::Read(char* out, size_t size) {
  if (size == 0) return 0;
  while (!needs_input_) {
    const absl::string_view in = absl::string_view(input_).substr(offset_);
    if (ended_ && !in.empty()) {
      SC_RETURN_IF_ERROR(NextMember());
      ended_ = false;
    }
    if (ended_ || (in.empty() && !output_pending_)) break;
    SC_ASSIGN_OR_RETURN(const Step step, Decode(in, out, size));
    offset_ += step.consumed;
    output_pending_ = step.more_output;
    ended_ = step.ended;
    if (step.produced > 0) return step.produced;
    if (step.consumed == 0 && !step.ended) break;  // wants more input
  }
  needs_input_ = true;
  return 0;
}

absl::Status ContentDecoder::Finish() const {
  if (!fed_ || (ended_ && offset_ == input_.size())) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "the ", name_,
      " body ended before its compressed data did (truncated body)"));
}

absl::Status ContentDecoder::Corrupt(absl::string_view why) const {
  return absl::DataLossError(absl::StrCat("corrupt ", name_, " body: ", why));
}

}  // namespace shadowcat
