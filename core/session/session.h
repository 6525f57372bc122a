#ifndef SHADOWCAT_CORE_SESSION_SESSION_H_
#define SHADOWCAT_CORE_SESSION_SESSION_H_

// One MCP client session with one upstream (session era: 2025-03-26 ..
// 2025-11-25): initialize + notifications/initialized, the negotiated
// MCP-Protocol-Version and the upstream's Mcp-Session-Id on every later
// request, requests answered in JSON or SSE, notifications, responses to server
// requests, and DELETE on close.
//
// Threading: a Session lives on its own strand. Public methods may be called
// from any thread: they post to the strand. Every callback runs on the strand
// and must not block. The sidecar owns the upstream JSON-RPC id space (PX-01):
// ids are this session's own increasing integers, so callers sharing a session
// can never collide.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/strand.hpp"
#include "core/config/config.h"
#include "core/http/http_client.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/connection_budget.h"
#include "core/session/rpc_exchange.h"

namespace shadowcat {

struct SessionParams {
  Url url;
  HeaderList extra_headers;  // validated caller headers, sent on every request
  std::string offered_version;     // validated; what initialize offers
  std::string client_info_raw;     // JSON object for clientInfo
  std::string capabilities_raw;    // JSON object for capabilities
  absl::Duration request_timeout;  // default deadline for calls without one
};

struct InitializeResult {
  std::string protocol_version;
  std::string server_info_raw;
  std::string capabilities_raw;
  std::string instructions;
};

// A thread-safe description of a session, for GetSession / ListSessions.
struct SessionSnapshot {
  std::string id;
  std::string upstream_url;
  std::string protocol_version;
  bool open = false;
  bool has_upstream_session = false;
  uint64_t requests_total = 0;
  uint32_t requests_in_flight = 0;
  absl::Duration age;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  struct Deps {
    boost::asio::io_context& ioc;
    HttpClient& http;
    ShadowcatMetrics& metrics;
    std::shared_ptr<ConnectionBudget> global_budget;
    const Config& config;
  };

  Session(std::string id, SessionParams params, Deps deps);

  // Performs initialize and notifications/initialized (LC-01, LC-02). Errors:
  // FailedPrecondition for a version we do not speak (after a best-effort
  // DELETE, VN-03), Unavailable when the upstream is unreachable or misbehaves,
  // and the RpcExchange codes.
  void Initialize(
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);

  // Sends a request and reports its response. `deadline` InfiniteFuture means
  // the session's default timeout. On timeout a notifications/cancelled goes
  // upstream (TO-01, CN-01). `on_message` (may be empty) sees requests and
  // notifications that arrive on the request's SSE stream. ResourceExhausted
  // when the per-session or global budget is spent.
  void Call(std::string method, std::string params_raw, absl::Time deadline,
            RpcExchange::MessageCallback on_message,
            absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done);

  // Sends a notification; OK once the upstream accepted it (202).
  void Notify(std::string method, std::string params_raw,
              absl::AnyInvocable<void(absl::Status)> done);

  // Sends a response to a server-initiated request (LC-04); `response_json` is
  // complete.
  void SendResponse(std::string response_json,
                    absl::AnyInvocable<void(absl::Status)> done);

  // Sends DELETE when the upstream gave a session id, bounded by close_timeout
  // (SM-07); `done(true)` when the upstream confirmed. Later calls fail with
  // NotFound.
  void Close(absl::AnyInvocable<void(bool upstream_deleted)> done);

  const std::string& id() const { return id_; }
  SessionSnapshot Snapshot() const;
  // False once closed or expired upstream (HTTP 404). Thread-safe and cheap:
  // checked on every call, unlike Snapshot().
  bool is_open() const { return open_.load(std::memory_order_acquire); }
  // When the session was last used by a caller (for idle expiry).
  absl::Time last_used() const;

 private:
  enum class State { kNew, kInitializing, kOpen, kClosed };

  // Sends one message as an RpcExchange, holding budget permits for its
  // lifetime.
  void Send(std::string method, std::string body, std::string id_raw,
            absl::Time deadline, RpcExchange::MessageCallback on_message,
            absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done);
  void OnInitializeResult(
      absl::StatusOr<RpcResult> result,
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);
  void SendCancelled(const std::string& id_raw);
  void Touch();
  // Answers a server ping on a request's stream ourselves (PI-01).
  void AnswerPing(const UpstreamMessage& message);
  // Headers of every request after initialize (VN-04, SM-03, AU-02).
  HeaderList SessionHeaders() const;
  absl::Status CheckOpen() const;

  const std::string id_;
  const SessionParams params_;
  Deps deps_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const absl::Time created_;
  const std::shared_ptr<ConnectionBudget> budget_;

  // Strand-confined.
  State state_ = State::kNew;
  int64_t next_request_id_ = 1;

  // Written on the strand before the session is published by SessionManager (or
  // as atomics), so other threads may read them.
  std::string protocol_version_;
  std::string upstream_session_id_;
  std::atomic<bool> open_{false};
  std::atomic<uint64_t> requests_total_{0};
  std::atomic<int64_t> last_used_unix_nanos_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_SESSION_H_
