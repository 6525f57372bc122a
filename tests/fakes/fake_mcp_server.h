#ifndef SHADOWCAT_TESTS_FAKES_FAKE_MCP_SERVER_H_
#define SHADOWCAT_TESTS_FAKES_FAKE_MCP_SERVER_H_

// A scriptable fake MCP upstream (Streamable HTTP) for integration and fault
// tests: a real HTTP server on 127.0.0.1:0 with its own io_context and thread,
// recording every request.
//
// Without a script it behaves like a small, lenient MCP server (it checks no
// session header):
//   POST initialize       -> negotiated (or forced) version; Mcp-Session-Id
//   when configured POST notification     -> 202, no body (also for JSON-RPC
//   responses) POST ping             -> {} POST tools/list       -> the `echo`
//   tool; tools/call echo -> the text POST other method     -> JSON-RPC error
//   -32601; unknown tool -> -32602 POST non-JSON body    -> 400 with a JSON-RPC
//   error -32700, id null DELETE -> 200, GET -> 405
// Replies echo the request id as sent (ints and strings), as JSON or SSE per
// the options.
//
// ScriptReply() queues a one-shot reply per JSON-RPC method (or per HTTP method
// for "GET" and "DELETE"); queued replies are used in FIFO order, then the
// defaults apply again.
//
// Stream faults of the Streamable HTTP transport (see fake_sse_streams.h for
// the model): SSE events with ids kept in an event store, priming events and
// `retry:`, drops by FIN or RST after k events, GET + Last-Event-ID replaying
// the rest of that one stream, the standalone GET stream (pushes, keepalives,
// 409 for a second one), server requests whose reply waits for the client's
// POSTed response, floods written with backpressure, and replies held until
// a test releases a gate. A GET carrying Last-Event-ID is always a resume; a
// GET without one gets the queued "GET" script if any, else the standalone
// stream when enabled, else 405.
//
// Threading: every method may be called from any thread. The destructor stops
// the server and joins its thread; replies still waiting on a delay or a gate
// are dropped.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "gtest/gtest.h"
#include "server/http_server.h"
#include "tests/fakes/fake_sse_streams.h"

namespace shadowcat {

struct RecordedRequest {
  std::string http_method;  // "POST", "GET", "DELETE", ...
  std::string target;
  std::string body;
  std::string rpc_method;  // the JSON-RPC method; empty for responses and
                           // non-JSON bodies
  HttpHeaders headers;
  // The JSON-RPC id as raw JSON (`7`, `"abc"`), for requests and responses;
  // empty when the body has none.
  std::string rpc_id;
  // The body is a JSON-RPC response (or error) from the client.
  bool is_rpc_response = false;
  // When the fake read the whole request (to time reconnects after a drop).
  absl::Time received_at;
  // The TCP connection it came on (HttpServerRequest::connection_id).
  uint64_t connection_id = 0;
  // Case-insensitive lookup of the first header named `name`; empty when
  // absent.
  std::string Header(absl::string_view name) const;
};

struct ScriptedReply {
  // The HTTP status. 202 and 204 carry no body (unless raw_body); so does any
  // non-2xx status without result_json or error_json.
  int status = 200;
  // Reply as text/event-stream instead of application/json. Unset:
  // FakeMcpServerOptions.
  std::optional<bool> sse;
  // Raw JSON-RPC messages sent as SSE events before the response (SSE replies
  // only).
  std::vector<std::string> messages_before;
  // The response's result (raw JSON, unchecked). Unset: the method's default
  // behaviour.
  std::optional<std::string> result_json;
  // A raw JSON-RPC error object, sent instead of a result.
  std::optional<std::string> error_json;
  // Send exactly this body (with content_type) and nothing else.
  std::optional<std::string> raw_body;
  // A 2025-03-26 batch (BA-01): messages_before and the response as one JSON
  // array, the whole body of a JSON reply or the data of one SSE event.
  bool batch = false;
  // Overrides the Content-Type.
  std::string content_type;
  // Added to the response headers.
  HttpHeaders extra_headers;
  // PX-07: sent as Content-Encoding, with the body encoded by EncodeContent()
  // (content_coding.h: "gzip", "x-gzip", "deflate", "br"). SSE streams are
  // compressed as one stream flushed after every write and sent in chunks of
  // odd sizes (gzip, x-gzip and deflate only). Any other value is sent as the
  // header over the plain body, as an upstream with an unknown coding would.
  // Not applied with abort_after_head.
  std::string content_encoding;
  // Send the head, then messages_before as SSE events (or raw_body, when set),
  // then drop the connection without the response.
  bool abort_after_head = false;
  // Wait this long before answering (an asio timer; the server keeps serving
  // meanwhile).
  absl::Duration delay = absl::ZeroDuration();

  // Stream faults. Setting any of event_ids, priming, retry_ms,
  // drop_after_events, flood_events or wait_for_response_to makes the reply
  // SSE unless `sse` says otherwise; they are ignored for non-SSE replies and
  // with abort_after_head or raw_body.

  // Give every event of the reply an id, unique across the server and opaque
  // ("s<stream>-e<n>"), and keep the stream's events for GET + Last-Event-ID.
  bool event_ids = false;
  // Start with an event carrying an id and empty data (RZ-04); implies
  // event_ids.
  bool priming = false;
  // Sent as `retry: N` with the first event (the priming one, if any).
  std::optional<int> retry_ms;
  // Send this many events (priming and flood events count), then close the
  // connection without ending the response. The events not sent stay in the
  // store. A polling close (SEP-1699): priming, retry_ms, drop after 1, kFin.
  // On a "GET" script for a resume: drop the resumed stream after k events.
  std::optional<size_t> drop_after_events;
  DropKind drop_kind = DropKind::kFin;
  // After messages_before, send this many notifications/message events of
  // about flood_event_bytes each, with "seq":0,1,... in their params, written
  // with backpressure (see FakeMcpServer::flood_stats()).
  size_t flood_events = 0;
  size_t flood_event_bytes = 1024;
  // SO_SNDBUF of the reply's connection (SSE replies): with a few KiB, a
  // reader that stops reading blocks the fake soon and deterministically,
  // whatever the kernel's buffer autotuning would allow.
  std::optional<int> send_buffer_bytes;
  // Hold the reply until Release(hold) is called (before or after the request
  // arrives). SSE replies send the head, priming and messages_before first;
  // other replies send nothing until released.
  std::string hold;
  // A JSON id (`"srv-1"`, `7`): after messages_before (which would carry the
  // server request with that id), wait for the client to POST its response
  // to that id before sending the reply's response. "$RESPONSE" in
  // result_json is replaced by the raw result (or error object) received.
  std::optional<std::string> wait_for_response_to;
  // On a "GET" script for a resume: answer 200 text/event-stream and end with
  // no events (RZ-10).
  bool resume_empty = false;
};

struct FakeMcpServerOptions {
  // Answer requests with SSE streams instead of application/json unless a
  // script says.
  bool sse_by_default = false;
  // Sent as Mcp-Session-Id on the initialize reply; empty: none (a sessionless
  // server).
  std::string session_id = "fake-session-1";
  // Answer this protocolVersion to initialize whatever the client asked; empty:
  // negotiate.
  std::string force_version;
  // The standalone GET stream; disabled (405) by default.
  StandaloneGetOptions standalone_get;
  // Once an initialize arrived, answer 400 to any other request (POST, GET,
  // DELETE) without the right Mcp-Session-Id (when session_id is set) or
  // whose MCP-Protocol-Version is not the negotiated one (VN-04, SM-03).
  bool strict_headers = false;
};

class FakeMcpServer {
 public:
  // Starts on 127.0.0.1 with a free port, on its own io_context and thread.
  static absl::StatusOr<std::unique_ptr<FakeMcpServer>> Start(
      FakeMcpServerOptions options = {});

  // Stops the server and joins its thread.
  ~FakeMcpServer();

  FakeMcpServer(const FakeMcpServer&) = delete;
  FakeMcpServer& operator=(const FakeMcpServer&) = delete;

  uint16_t port() const;
  // "http://127.0.0.1:PORT/mcp".
  std::string url() const;

  // Queues `reply` for the next request whose JSON-RPC method is `rpc_method`,
  // or whose HTTP method is `rpc_method` for "GET" and "DELETE".
  void ScriptReply(absl::string_view rpc_method, ScriptedReply reply);

  // Every request received so far, in arrival order.
  std::vector<RecordedRequest> requests() const;

  // Waits until at least `n` requests have been received.
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForRequestCount(
      size_t n, absl::Duration timeout = absl::Seconds(5));

  // Waits for the first request not yet returned by WaitForRpc() whose JSON-RPC
  // method, or else HTTP method, is `rpc_method_or_http_method`; copies it to
  // `*out` when `out` is set. Each request is returned once, so successive
  // calls see successive matches.
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForRpc(
      absl::string_view rpc_method_or_http_method, RecordedRequest* out,
      absl::Duration timeout = absl::Seconds(5));

  // Waits for a POST carrying the client's JSON-RPC response (or error) to
  // the server request `id_json` (raw JSON: `7`, `"abc"`; compared as
  // parsed). Claims it like WaitForRpc() does.
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForResponseTo(
      absl::string_view id_json, RecordedRequest* out,
      absl::Duration timeout = absl::Seconds(5));

  // Sends `json` (a JSON-RPC request or notification) on the standalone GET
  // stream, with an event id; kept until a GET stream opens when none exists
  // yet, and kept for a resume when the stream is dropped.
  void PushServerMessage(std::string json);
  // Opens gate `gate` for good: replies held on it go on, and later ones are
  // not held.
  void Release(absl::string_view gate);
  // How GETs with Last-Event-ID are answered when no "GET" script is queued.
  void SetResumeBehavior(ResumeBehavior behavior);

  // Waits until a standalone GET stream is open and its head was sent.
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForGetStreamOpen(
      absl::Duration timeout = absl::Seconds(5));
  // Waits until the client of an SSE reply (POST or GET) went away before
  // the stream ended; each such disconnect satisfies one call.
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForClientDisconnect(
      absl::Duration timeout = absl::Seconds(5));
  // SSE connections whose client went away before the stream ended (drops
  // made by the fake do not count).
  size_t client_disconnects() const;

  // Waits until a flood chunk has waited more than 10 ms for the socket,
  // i.e. the fake is observed blocked on a reader that does not read.
  ABSL_MUST_USE_RESULT testing::AssertionResult WaitForFloodBlocked(
      absl::Duration timeout = absl::Seconds(5));
  // Complete for a flood once its response end was received by the client.
  FloodStats flood_stats() const;

 private:
  explicit FakeMcpServer(FakeMcpServerOptions options);

  void Handle(HttpServerRequest request,
              std::shared_ptr<HttpResponseWriter> writer)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The reason to refuse `record` under strict_headers; empty: accept.
  std::string StrictHeaderProblemLocked(const RecordedRequest& record) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // "initialize, notifications/initialized, GET", for failure messages.
  std::string DescribeRequestsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FakeMcpServerOptions options_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  std::unique_ptr<HttpServer> server_;
  FakeSseStreams streams_;
  std::thread thread_;
  absl::Notification ran_out_of_work_;  // the thread's run() returned

  mutable absl::Mutex mu_;
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
  // Parallel to requests_: already returned by WaitForRpc().
  std::vector<bool> claimed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::deque<ScriptedReply>> scripts_
      ABSL_GUARDED_BY(mu_);
  // Timers of delayed replies, cancelled on destruction.
  std::vector<std::weak_ptr<boost::asio::steady_timer>> delays_
      ABSL_GUARDED_BY(mu_);
  ResumeBehavior resume_ ABSL_GUARDED_BY(mu_);
  // The protocolVersion answered to the last initialize; empty before one.
  std::string negotiated_version_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_FAKES_FAKE_MCP_SERVER_H_
