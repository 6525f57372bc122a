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
// Threading: every method may be called from any thread. The destructor stops
// the server and joins its thread; replies still waiting on a delay are
// dropped.

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

namespace shadowcat {

struct RecordedRequest {
  std::string http_method;  // "POST", "GET", "DELETE", ...
  std::string target;
  std::string body;
  std::string rpc_method;  // the JSON-RPC method; empty for responses and
                           // non-JSON bodies
  HttpHeaders headers;
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
  // Overrides the Content-Type.
  std::string content_type;
  // Added to the response headers.
  HttpHeaders extra_headers;
  // Send the head, then messages_before as SSE events (or raw_body, when set),
  // then drop the connection without the response.
  bool abort_after_head = false;
  // Wait this long before answering (an asio timer; the server keeps serving
  // meanwhile).
  absl::Duration delay = absl::ZeroDuration();
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

 private:
  explicit FakeMcpServer(FakeMcpServerOptions options);

  void Handle(HttpServerRequest request,
              std::shared_ptr<HttpResponseWriter> writer)
      ABSL_LOCKS_EXCLUDED(mu_);
  // "initialize, notifications/initialized, GET", for failure messages.
  std::string DescribeRequestsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FakeMcpServerOptions options_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  std::unique_ptr<HttpServer> server_;
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
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_FAKES_FAKE_MCP_SERVER_H_
