#ifndef SHADOWCAT_CORE_SESSION_RPC_EXCHANGE_H_
#define SHADOWCAT_CORE_SESSION_RPC_EXCHANGE_H_

// One JSON-RPC message POSTed to an MCP endpoint, and what came back: a JSON
// body, an SSE stream carrying the response (and server messages before it), or
// 202 for notifications and responses (SH-01..SH-07, SS-01, SS-02).
//
// Threading: Start() and Cancel() run on `strand`; every callback runs there
// too. `done` runs exactly once; `on_message` never after it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/steady_timer.hpp"
#include "core/http/http_client.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/sse/sse_parser.h"

namespace shadowcat {

struct RpcRequest {
  Url url;
  HeaderList
      headers;       // session headers; Content-Type and Accept are added here
  std::string body;  // one JSON-RPC message
  std::string
      id_raw;  // the request's id token; empty for notifications and responses
  MethodLabel method = MethodLabel::kOther;
};

struct RpcResult {
  int http_status = 0;
  // The Mcp-Session-Id response header, when present (captured on initialize,
  // SM-01).
  std::optional<std::string> session_id_header;
  // For requests: either the raw `result`, or the error fields.
  bool is_error = false;
  std::string result_raw;
  int64_t error_code = 0;
  std::string error_message;
  std::string error_data_raw;
};

// A request or notification the upstream sent on the POST's SSE stream before
// responding.
struct UpstreamMessage {
  std::string json;  // the whole message as received
  std::string method;
  std::string id_raw;    // empty for notifications
  std::string event_id;  // the SSE event id, if any
};

struct RpcExchangeOptions {
  // A JSON body or SSE event larger than this fails with ResourceExhausted
  // (PX-06).
  size_t max_message_bytes = 4 << 20;
  // When the exchange gives up with DeadlineExceeded (TO-01).
  absl::Time deadline = absl::InfiniteFuture();
};

class RpcExchange : public std::enable_shared_from_this<RpcExchange> {
 public:
  using MessageCallback = absl::AnyInvocable<void(UpstreamMessage)>;
  using DoneCallback = absl::AnyInvocable<void(absl::StatusOr<RpcResult>)>;

  // Errors reported through `done`: NotFound (HTTP 404: the upstream forgot the
  // session), Unauthenticated (401), PermissionDenied (403), InvalidArgument
  // (400 without a JSON-RPC error body), Unavailable (connect failure, drop,
  // 5xx, a malformed or missing response), ResourceExhausted (message too
  // large), DeadlineExceeded, Cancelled. An HTTP error whose body is a JSON-RPC
  // error is a result with is_error set (SH-07).
  static std::shared_ptr<RpcExchange> Start(
      HttpClient& client, boost::asio::any_io_executor strand,
      RpcRequest request, RpcExchangeOptions options, ShadowcatMetrics& metrics,
      MessageCallback on_message, DoneCallback done);

  // Ends the exchange with Cancelled unless it already ended. Runs on the
  // strand.
  void Cancel();

  RpcExchange(boost::asio::any_io_executor strand, RpcRequest request,
              RpcExchangeOptions options, ShadowcatMetrics& metrics,
              MessageCallback on_message, DoneCallback done);

 private:
  enum class BodyKind { kNone, kJson, kSse, kError };

  void OnHead(const HttpResponseHead& head);
  void OnBody(absl::string_view chunk);
  void OnHttpDone(absl::Status status);
  void OnSseEvent(const SseEvent& event);
  // Handles one complete JSON-RPC message from the body or an SSE event.
  void OnMessage(absl::string_view json, absl::string_view event_id);
  void OnDeadline();
  void Finish(absl::StatusOr<RpcResult> result);
  absl::Status HttpErrorStatus() const;

  boost::asio::any_io_executor strand_;
  RpcRequest request_;
  RpcExchangeOptions options_;
  ShadowcatMetrics& metrics_;
  MessageCallback on_message_;
  DoneCallback done_;

  // Weak: the HTTP exchange owns our handlers (and through them, us), so a
  // strong pointer back would be a cycle that leaks whenever the exchange never
  // completes (its I/O torn down at shutdown).
  std::weak_ptr<HttpExchange> http_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  BodyKind body_kind_ = BodyKind::kNone;
  RpcResult result_;
  std::string body_;  // JSON or error bodies, bounded by max_message_bytes
  SseParser sse_;
  bool finished_ = false;
  bool http_done_ = false;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_RPC_EXCHANGE_H_
