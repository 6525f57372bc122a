#ifndef SHADOWCAT_TESTS_FAKES_FAKE_SSE_STREAMS_H_
#define SHADOWCAT_TESTS_FAKES_FAKE_SSE_STREAMS_H_

// The text/event-stream side of FakeMcpServer: every SSE reply it sends, the
// event store behind Last-Event-ID resumption, the standalone GET stream, and
// the stream faults (drops, floods, gates, waiting for a client's response).
// Tests drive it through FakeMcpServer; the types below are part of that API.
//
// Model: a *stream* is one logical SSE stream (the reply to one POST, or one
// standalone GET). It owns an append-only list of events, kept for the life of
// the server, and at most one *connection* (HttpResponseWriter) at a time,
// which sends the events from its cursor on. Dropping a connection detaches it
// but keeps the stream, so a GET with Last-Event-ID can attach a new
// connection right after any event id of that stream (and only that stream).
// Events go out several per chunk, with at most two chunks unwritten, so a
// reader that stops reading makes the fake wait rather than buffer.
//
// Threading: thread-safe. One mutex guards all state. Work that touches
// connections or timers runs on the io_context's (single) thread: public
// calls from other threads are posted there. Writer calls made under the lock
// only post to the connection's strand, so nothing re-enters.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "gtest/gtest.h"
#include "server/http_server.h"

namespace shadowcat {

// How a dropped connection ends, as the client sees it.
enum class DropKind {
  kFin,  // a graceful close: EOF after the bytes sent
  kRst,  // a TCP reset (SO_LINGER 0, then close)
};

// How long the fake waited for its flood chunks to reach the socket, summed
// over every flood of the server. A wait is the time from queueing a chunk to
// its write completing; a reader that does not read makes them grow.
struct FloodStats {
  size_t events_sent = 0;
  absl::Duration max_write_wait = absl::ZeroDuration();
  absl::Duration total_write_wait = absl::ZeroDuration();
  size_t writes_waited_over_10ms = 0;
};

// What a GET with Last-Event-ID gets when no "GET" script is queued.
struct ResumeBehavior {
  // Anything but 200 refuses every resume with this status and no body (404:
  // the session expired).
  int status = 200;
  // Answer 200 text/event-stream and end at once, with no events (RZ-10).
  bool empty = false;
  // Drop the resumed connection again after this many events.
  std::optional<size_t> drop_after_events;
  DropKind drop_kind = DropKind::kFin;
  // Replay this many events from before the one after Last-Event-ID too, as
  // an event store that resumes from an older point would: the client sees
  // ids it already has (SS-06).
  size_t replay_overlap = 0;
};

// The standalone GET stream (a GET without Last-Event-ID).
struct StandaloneGetOptions {
  // False: such a GET gets 405 (no server stream), as before.
  bool enabled = false;
  // Start each new GET stream with an event that has an id and empty data.
  bool priming = false;
  // Sent as `retry:` with the first event of each new GET stream.
  std::optional<int> retry_ms;
  // Write `: keepalive` comments this often while a GET connection is open.
  std::optional<absl::Duration> keepalive_interval;
  // Drop each new GET connection after this many events (priming included);
  // the stream can then be resumed with GET + Last-Event-ID.
  std::optional<size_t> drop_after_events;
  DropKind drop_kind = DropKind::kFin;
};

// Everything one SSE reply to a POST sends after its head, in this order:
// priming event, messages_before, the flood, (wait for the gate and for the
// client's response), the response, then the end of the stream.
struct SsePlan {
  bool event_ids = false;  // implied by priming
  bool priming = false;
  std::optional<int> retry_ms;
  std::vector<std::string> messages_before;
  // Flood events carry no ids, are never stored, and are only sent on the
  // reply's own connection: a drop during the flood skips the rest of it.
  size_t flood_events = 0;
  size_t flood_event_bytes = 0;
  std::string hold_gate;  // empty: none
  // A JSON id, as serialized by boost::json; empty: none.
  std::string wait_for_response_to;
  // The final message; "$RESPONSE" in it is replaced by the raw result (or
  // error object) of the awaited client response. Unset: end after the
  // events.
  std::optional<std::string> response;
  std::optional<size_t> drop_after_events;
  DropKind drop_kind = DropKind::kFin;
  // SO_SNDBUF for the reply's connection.
  std::optional<int> send_buffer_bytes;
  // PX-07: the reply's own connection compresses its events as one stream
  // (FlushedZlibStream, content_coding.h), flushed per write and cut into
  // chunks of 1, 2, ... 7 bytes, so a reader sees compressed data split at
  // odd boundaries. A resumed connection is not compressed. The caller sends
  // the Content-Encoding header; empty or a coding without a stream: none.
  std::string content_encoding;
};

class FakeSseStreams {
 public:
  // `ioc` must be run by exactly one thread, and must outlive this object
  // only while that thread runs: call Shutdown() on it, let it run out of
  // work, then destroy this object.
  FakeSseStreams(boost::asio::io_context& ioc, StandaloneGetOptions standalone);
  ~FakeSseStreams();

  FakeSseStreams(const FakeSseStreams&) = delete;
  FakeSseStreams& operator=(const FakeSseStreams&) = delete;

  // Starts the reply `plan` describes on `writer` (head: `status`, `headers`).
  void Reply(std::shared_ptr<HttpResponseWriter> writer, int status,
             HttpHeaders headers, SsePlan plan) ABSL_LOCKS_EXCLUDED(mu_);
  // Answers a GET with Last-Event-ID: replays the events of that id's stream
  // after it (then whatever that stream still produces). 404 for an unknown
  // id, 409 while the stream has a connection.
  void Resume(std::shared_ptr<HttpResponseWriter> writer,
              absl::string_view last_event_id, const ResumeBehavior& behavior)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Answers a GET without Last-Event-ID: opens a new standalone stream, or
  // 409 while the current one has a connection (SS-08).
  void OpenStandalone(std::shared_ptr<HttpResponseWriter> writer)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Appends `json` to the current standalone stream (sent at once if it has
  // a connection, else kept for a resume), or queues it for the first one.
  void Push(std::string json) ABSL_LOCKS_EXCLUDED(mu_);
  // Opens `gate` for good: held replies and later holds go on.
  void Release(absl::string_view gate) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `then` on the io_context's thread once `gate` is open.
  void WhenReleased(absl::string_view gate, std::function<void()> then)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The client POSTed a response: `id_json` (serialized id) and its raw
  // result or error object.
  void OnClientResponse(std::string id_json, std::string payload)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Must run on the io_context's thread, after HttpServer::Stop(): cancels
  // timers and releases every writer, so the io_context runs out of work.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  FloodStats flood_stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // SSE connections whose client went away before the stream ended.
  size_t client_disconnects() const ABSL_LOCKS_EXCLUDED(mu_);

  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForFloodBlocked(
      absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForGetStreamOpen(
      absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForClientDisconnect(
      absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Stream;

  Stream& NewStreamLocked(bool ids, bool standalone)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Stream* FindLocked(int64_t number) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AppendLocked(Stream& s, absl::string_view data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AttachLocked(Stream& s, std::shared_ptr<HttpResponseWriter> writer,
                    int status, HttpHeaders headers, size_t cursor,
                    std::optional<size_t> drop_after, DropKind drop_kind,
                    bool floods_here) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the producer as far as gates and responses allow, then the pump.
  void AdvanceLocked(Stream& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes what the connection may send now; drops or ends it when due.
  void PumpLocked(Stream& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteLocked(Stream& s, std::string chunk, size_t flood_events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DetachLocked(Stream& s, bool client_gone)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmKeepaliveLocked(Stream& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushLocked(std::string json) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Writer callbacks, on the connection's strand.
  void OnWritten(int64_t stream, uint64_t gen, bool ok, absl::Time queued,
                 size_t flood_events) ABSL_LOCKS_EXCLUDED(mu_);
  void OnConnectionClosed(int64_t stream, uint64_t gen)
      ABSL_LOCKS_EXCLUDED(mu_);

  boost::asio::io_context& ioc_;
  const StandaloneGetOptions standalone_;

  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_stream_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_gen_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<int64_t, std::unique_ptr<Stream>> streams_
      ABSL_GUARDED_BY(mu_);
  struct EventPosition {
    int64_t stream;
    size_t index;
  };
  absl::flat_hash_map<std::string, EventPosition> event_index_
      ABSL_GUARDED_BY(mu_);
  // The latest standalone stream; 0: none yet.
  int64_t standalone_stream_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> pending_pushes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> open_gates_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<std::function<void()>>> held_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> client_responses_
      ABSL_GUARDED_BY(mu_);
  FloodStats flood_stats_ ABSL_GUARDED_BY(mu_);
  // Serials of flood chunks not yet written; a timer per chunk checks here.
  uint64_t next_flood_write_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_set<uint64_t> flood_writes_in_flight_ ABSL_GUARDED_BY(mu_);
  bool flood_blocked_ ABSL_GUARDED_BY(mu_) = false;
  size_t client_disconnects_ ABSL_GUARDED_BY(mu_) = 0;
  size_t disconnects_claimed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_FAKES_FAKE_SSE_STREAMS_H_
