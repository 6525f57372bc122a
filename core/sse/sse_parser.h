#ifndef SHADOWCAT_CORE_SSE_SSE_PARSER_H_
#define SHADOWCAT_CORE_SSE_SSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/sse/sse_event.h"

namespace shadowcat {

struct SseParserOptions {
  // Upper bound on what one event may hold in memory: its data buffer plus the
  // line being read (every line counts, comments and unknown fields included,
  // since an over-long line has to be buffered before it can be classified). An
  // event that would exceed it is dropped, see SseParser::Feed. Default: 4 MiB.
  // Raising it raises the worst-case memory of every upstream stream by about
  // twice the increase (data buffer + line buffer).
  size_t max_event_bytes = 4 << 20;
};

// An incremental parser for the WHATWG event-stream format (HTML LS
// §9.2.5-9.2.6): bytes in, SseEvent values out, no I/O. It is byte-oriented:
// invalid UTF-8 is passed through unchanged rather than replaced by U+FFFD
// (WS-01), because every data payload goes on to a JSON parser that rejects
// invalid UTF-8 anyway (SH-08) and re-encoding here would cost a copy of every
// byte. Only ASCII delimiters are interpreted, so any byte sequence is valid
// input.
//
// One parser reads one HTTP response body (WS-18). After Finish() the same
// object may read the next response of the same logical stream: the
// per-response state is reset, while last_event_id(), retry_ms() and the
// counters carry over.
//
// Thread-compatible: one owner (the stream's strand) calls it; no internal
// locking.
class SseParser {
 public:
  // Retry values above this are clamped to it (WS-12): 24 hours, far beyond any
  // sane reconnection delay, and small enough that callers can do arithmetic on
  // it freely.
  static constexpr int64_t kMaxRetryMs = int64_t{24} * 60 * 60 * 1000;

  explicit SseParser(SseParserOptions options = {});

  // Feeds the next chunk of the body. Chunk boundaries may fall anywhere,
  // including inside a UTF-8 BOM or between the CR and LF of one line
  // terminator; the events produced are the same for every way of cutting the
  // stream into chunks.
  //
  // Calls `on_event` synchronously for each dispatched event, in stream order.
  // The event reference is valid only during the call. `on_event` must not call
  // back into this parser.
  //
  // Returns OK, or ResourceExhausted when at least one event in this chunk
  // outgrew max_event_bytes. Such an event is dropped whole: the parser
  // discards everything up to the blank line that ends it, so neither its data
  // nor its `id` take effect (the cursor keeps naming the last event the caller
  // could have received), and events_dropped() is incremented. A `retry` field
  // read before the overflow stays applied, as the spec applies retry at once.
  // The rest of the chunk is still parsed and later events still dispatch, so
  // the error is informational: the stream stays usable.
  absl::Status Feed(absl::string_view chunk,
                    absl::FunctionRef<void(const SseEvent&)> on_event);

  // Ends the current response. A pending, unterminated event is discarded
  // without dispatch (WS-14), and its `id` with it. Returns the number of bytes
  // after the last event boundary that were thrown away: 0 when the body ended
  // on a blank line, so a non-zero value means the connection was cut
  // mid-event.
  size_t Finish();

  // The last event ID string (WS-13 step 1): the last-event-ID buffer as of the
  // most recent blank line. This is the value for a resuming GET's
  // Last-Event-ID header, sent only when non-empty (RZ-12, WS-16). "" until an
  // `id` field is dispatched, and again after an empty `id:` field is.
  const std::string& last_event_id() const { return last_event_id_; }

  // The last valid `retry` field, in milliseconds, clamped to kMaxRetryMs;
  // nullopt until one is seen. Bogus values never overwrite a valid one
  // (WS-12).
  std::optional<int64_t> retry_ms() const { return retry_ms_; }

  // Valid while `on_event` runs (the one accessor it may call): whether the
  // event being dispatched had an `id` field of its own. SseEvent::id is
  // sticky, so it cannot tell an event that repeats the last id (a replay,
  // SS-06) from one that carries none.
  bool event_has_id() const { return event_has_id_; }
  // Events dropped for exceeding max_event_bytes, over the parser's lifetime.
  uint64_t events_dropped() const { return events_dropped_; }

  // Comment lines seen over the parser's lifetime. They are never dispatched;
  // the count exists so keepalive comments can be observed as liveness (SS-09,
  // WS-17).
  uint64_t comments_seen() const { return comments_seen_; }

 private:
  using EventCallback = absl::FunctionRef<void(const SseEvent&)>;

  // Holds back the first bytes of a response while they might still be a BOM
  // (WS-02); returns the part of `chunk` left to parse.
  absl::string_view ConsumeBom(absl::string_view chunk, EventCallback on_event);
  // Splits `bytes` into lines; the last, unterminated piece is kept for the
  // next call.
  void ConsumeLines(absl::string_view bytes, EventCallback on_event);
  // `piece` is the rest of a line whose terminator has been found.
  void EndLine(absl::string_view piece, EventCallback on_event);
  // `piece` is the start (or a middle part) of a line whose terminator has not
  // arrived.
  void ContinueLine(absl::string_view piece);
  void ProcessLine(absl::string_view line, EventCallback on_event);
  void ProcessRetry(absl::string_view value);
  void Dispatch(EventCallback on_event);
  void DropEvent();
  bool Exceeds(size_t line_bytes) const {
    return data_.size() + line_bytes > options_.max_event_bytes;
  }

  const SseParserOptions options_;

  // Per-response state, reset by Finish().
  std::string line_;       // a line split across chunks, without its terminator
  std::string data_;       // the data buffer, each line followed by "\n"
  std::string type_;       // the event type buffer
  std::string id_buffer_;  // the last-event-ID buffer
  bool event_has_id_ = false;  // the event being read had an `id` field
  // BOM bytes seen and held back so far; bom_done_ once a BOM can no longer
  // appear.
  uint8_t bom_matched_ = 0;
  bool bom_done_ = false;
  // The last chunk ended in CR, so an LF starting the next one completes it.
  bool pending_cr_ = false;
  // Inside an over-limit event: lines are discarded up to the next blank line.
  // While dropping, the line being read is known not to be blank once any of
  // its bytes has been seen, which is all that is kept of it.
  bool dropping_ = false;
  bool dropping_line_started_ = false;
  // Bytes since the last blank line, returned by Finish().
  size_t tail_bytes_ = 0;

  // Per-stream state, kept across Finish().
  std::string last_event_id_;
  std::optional<int64_t> retry_ms_;
  uint64_t events_dropped_ = 0;
  uint64_t comments_seen_ = 0;

  // Handed to the callback; reused so that steady-state dispatch does not
  // allocate.
  SseEvent event_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SSE_SSE_PARSER_H_
