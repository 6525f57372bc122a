// Fuzzes ContentDecoder (PX-07) for crashes and for what HttpClient relies on:
// how the compressed body is cut and how small the read buffer is never
// change what comes out, and no Read() writes past its buffer. The first
// input byte picks the coding, the second the piece and buffer sizes, the
// rest is the body. Output is capped, so a bomb costs time, not memory.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/http/content_decoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace shadowcat {
namespace {

constexpr size_t kMaxOutput = 64 << 10;

struct Outcome {
  absl::Status status;
  std::string output;
  bool capped = false;
};

Outcome Decode(absl::string_view coding, absl::string_view body, size_t piece,
               size_t buffer_size) {
  Outcome outcome;
  absl::StatusOr<std::unique_ptr<ContentDecoder>> created =
      ContentDecoder::Create(coding);
  FUZZ_CHECK(created.ok() && *created != nullptr);
  ContentDecoder& decoder = **created;
  // A guard byte after the buffer catches a Read() that writes too much.
  std::string buffer(buffer_size + 1, '\0');
  buffer[buffer_size] = '\x5a';
  for (size_t at = 0; at < body.size(); at += piece) {
    decoder.Feed(body.substr(at, piece));
    while (!decoder.NeedsInput()) {
      absl::StatusOr<size_t> n = decoder.Read(buffer.data(), buffer_size);
      FUZZ_CHECK(buffer[buffer_size] == '\x5a');
      if (!n.ok()) {
        FUZZ_CHECK(absl::IsDataLoss(n.status()) ||
                   absl::IsResourceExhausted(n.status()));
        outcome.status = n.status();
        return outcome;
      }
      FUZZ_CHECK(*n <= buffer_size);
      outcome.output.append(buffer.data(), *n);
      if (outcome.output.size() >= kMaxOutput) {
        outcome.output.resize(kMaxOutput);
        outcome.capped = true;
        return outcome;
      }
    }
  }
  outcome.status = decoder.Finish();
  return outcome;
}

}  // namespace
}  // namespace shadowcat

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using shadowcat::Decode;
  using shadowcat::Outcome;
  if (size < 2) return 0;
  constexpr absl::string_view kCodings[] = {"gzip", "deflate", "br"};
  const absl::string_view coding = kCodings[data[0] % 3];
  const size_t piece = 1 + data[1] % 13;
  const size_t buffer = 1 + data[1] / 13 % 19;
  const absl::string_view body(reinterpret_cast<const char*>(data) + 2,
                               size - 2);
  const Outcome whole = Decode(coding, body, body.size() + 1, 64 << 10);
  const Outcome cut = Decode(coding, body, piece, buffer);
  if (whole.capped || cut.capped) {
    const size_t n = std::min(whole.output.size(), cut.output.size());
    FUZZ_CHECK(whole.output.compare(0, n, cut.output, 0, n) == 0);
    return 0;
  }
  FUZZ_CHECK(whole.status.ok() == cut.status.ok());
  if (whole.status.ok()) {
    FUZZ_CHECK(whole.output == cut.output);
  } else {
    // Where an error is noticed may move with the cut; what came before it
    // may not change.
    const size_t n = std::min(whole.output.size(), cut.output.size());
    FUZZ_CHECK(whole.output.compare(0, n, cut.output, 0, n) == 0);
  }
  return 0;
}
