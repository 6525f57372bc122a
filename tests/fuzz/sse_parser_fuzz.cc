// Fuzzes SseParser for crashes and for the property the transport relies on
// (WS-18): how the body is cut into chunks never changes the events, the
// cursor, the retry value or the counters. Each input is parsed in one shot, in
// chunks whose sizes come from the input's own bytes (so mutations steer the
// cut points), and, when short, in 1-byte steps; once with the default limit
// and once with a small limit derived from the input, so the drop-and-resync
// path is exercised too. A mismatch or a broken invariant aborts.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/sse/sse_parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace shadowcat {
namespace {

struct Outcome {
  std::vector<SseEvent> events;
  std::string last_event_id;
  std::optional<int64_t> retry_ms;
  uint64_t events_dropped = 0;
  uint64_t comments_seen = 0;
  bool exhausted = false;
  size_t discarded = 0;

  friend bool operator==(const Outcome&, const Outcome&) = default;
};

bool HasByte(absl::string_view s, char c) {
  return s.find(c) != absl::string_view::npos;
}

void CheckEvent(const SseEvent& e, const SseParserOptions& options) {
  FUZZ_CHECK(!e.type.empty());
  FUZZ_CHECK(!HasByte(e.type, '\r') && !HasByte(e.type, '\n'));
  FUZZ_CHECK(!HasByte(e.data, '\r'));
  FUZZ_CHECK(!HasByte(e.id, '\r') && !HasByte(e.id, '\n') &&
             !HasByte(e.id, '\0'));
  FUZZ_CHECK(e.data.size() <= options.max_event_bytes);
}

// Feeds `input` cut at the offsets produced by `next_size` (0 = rest of input),
// with an empty chunk after each one when `empty_between`.
template <typename NextSize>
Outcome Run(absl::string_view input, const SseParserOptions& options,
            NextSize next_size, bool empty_between = false) {
  SseParser parser(options);
  Outcome out;
  auto collect = [&](const SseEvent& e) {
    CheckEvent(e, options);
    out.events.push_back(e);
  };
  size_t pos = 0;
  do {
    size_t n = next_size();
    if (n == 0 || n > input.size() - pos) n = input.size() - pos;
    const uint64_t dropped_before = parser.events_dropped();
    absl::Status status = parser.Feed(input.substr(pos, n), collect);
    // ResourceExhausted exactly when this chunk dropped an event, OK otherwise.
    FUZZ_CHECK(status.ok() == (parser.events_dropped() == dropped_before));
    FUZZ_CHECK(status.ok() || absl::IsResourceExhausted(status));
    out.exhausted |= !status.ok();
    // An empty chunk (null data, even) must change nothing, e.g. not clear a
    // pending CR.
    if (empty_between) FUZZ_CHECK(parser.Feed({}, collect).ok());
    pos += n;
  } while (pos < input.size());
  out.discarded = parser.Finish();
  FUZZ_CHECK(out.discarded <= input.size());
  out.last_event_id = parser.last_event_id();
  FUZZ_CHECK(!HasByte(out.last_event_id, '\r') &&
             !HasByte(out.last_event_id, '\n') &&
             !HasByte(out.last_event_id, '\0'));
  out.retry_ms = parser.retry_ms();
  FUZZ_CHECK(!out.retry_ms ||
             (*out.retry_ms >= 0 && *out.retry_ms <= SseParser::kMaxRetryMs));
  out.events_dropped = parser.events_dropped();
  out.comments_seen = parser.comments_seen();
  return out;
}

void CheckChunkingInvariance(absl::string_view input,
                             const SseParserOptions& options) {
  const Outcome whole = Run(input, options, [] { return size_t{0}; });

  // Chunk sizes read cyclically from the input: mostly 1-8 bytes, sometimes a
  // few hundred, so that CR/LF pairs, BOM bytes and over-limit lines all get
  // cut.
  size_t k = 0;
  const Outcome chunked = Run(input, options, [&]() -> size_t {
    if (input.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(input[(k++ * 7) % input.size()]);
    // Never 0 (that means "rest"); empty chunks have their own variant below.
    return (b & 0x80) ? 1 + (b & 0x7f) * 3 : 1 + (b & 0x07);
  });
  FUZZ_CHECK(chunked == whole);

  if (input.size() <= 512) {
    const Outcome stepped = Run(input, options, [] { return size_t{1}; });
    FUZZ_CHECK(stepped == whole);
  }

  const Outcome with_empty = Run(
      input, options, [] { return size_t{5}; }, /*empty_between=*/true);
  FUZZ_CHECK(with_empty == whole);
}

}  // namespace
}  // namespace shadowcat

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  shadowcat::CheckChunkingInvariance(input, {});
  const size_t small_limit =
      size == 0 ? 16 : static_cast<uint8_t>(input[0]) % 96;
  shadowcat::CheckChunkingInvariance(input, {.max_event_bytes = small_limit});
  return 0;
}
