#ifndef SHADOWCAT_CORE_METRICS_SHADOWCAT_METRICS_H_
#define SHADOWCAT_CORE_METRICS_SHADOWCAT_METRICS_H_

// Every product metric, declared in one place and created once at startup.
// Components get a `ShadowcatMetrics&` and update pre-resolved series: no
// lookup by name on hot paths. Labels come from the closed enums below, never
// from URLs or ids, so cardinality stays bounded. All updates are lock-free
// atomics (prometheus-cpp), safe from any thread.

#include <array>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace shadowcat {

// How an upstream request ended.
enum class RequestOutcome {
  kOk,            // a JSON-RPC result (or 202 for notifications)
  kJsonRpcError,  // a JSON-RPC error response in a 2xx answer
  kHttpError,     // a non-2xx HTTP status, whatever its body
  kUnavailable,   // connect failure, drop
  kTimeout,       // deadline passed
  kCancelled,     // the caller went away
  kBadResponse,   // unparseable or unexpected response
  kRejected,      // refused before sending (limits)
  kCount,
};
absl::string_view ToLabel(RequestOutcome outcome);

// The MCP method, from a fixed list; everything else is "other".
enum class MethodLabel {
  kInitialize,
  kPing,
  kToolsList,
  kToolsCall,
  kResourcesList,
  kResourcesRead,
  kPromptsList,
  kPromptsGet,
  kNotification,
  kResponse,  // a response to a server request (LC-04)
  kOther,
  kCount,
};
MethodLabel ClassifyMethod(absl::string_view method);
absl::string_view ToLabel(MethodLabel method);

// Which limit refused work.
enum class LimitKind {
  kSessions,
  kSessionConnections,
  kTotalConnections,
  kMessageBytes,
  kCount
};
absl::string_view ToLabel(LimitKind limit);

// Malformed input, by where it was found.
enum class ParseErrorKind { kCallerJson, kUpstreamJson, kUpstreamSse, kCount };
absl::string_view ToLabel(ParseErrorKind kind);

// Upstream SSE streams: which kind, and the state or transition reason.
enum class StreamKind { kPost, kGet, kCount };
absl::string_view ToLabel(StreamKind kind);
enum class StreamState { kConnecting, kConnected, kReconnecting, kCount };
absl::string_view ToLabel(StreamState state);
// Why a stream changed state; the reason implies the new state.
enum class StreamReason {
  kConnected,    // -> connected
  kEof,          // -> reconnecting: the server closed the connection
  kDropped,      // -> reconnecting: the connection broke
  kTimeout,      // -> reconnecting: silent past --read_timeout
  kHttpRetry,    // -> reconnecting: a resume answered 409, 429 or 5xx
  kComplete,     // -> closed: the response arrived (or the body ended)
  kCancelled,    // -> closed: cancelled, or the session closed
  kNoEventId,    // -> failed: dropped before any event id (RZ-09)
  kExhausted,    // -> failed: reconnects without progress ran out (RZ-10)
  kHttpError,    // -> failed: an HTTP error status
  kUnsupported,  // -> closed: GET answered 405, no server stream (SS-04)
  kExpired,      // -> failed: 404, the upstream session is gone (SM-08)
  kStalled,      // -> failed: the backend read nothing for too long
  kBadResponse,  // -> failed: wrong content type, malformed body
  kTooLarge,     // -> failed: a message over --max_message_bytes
  kLost,         // -> failed: a stream without resumption ended (LG-04)
  kCount,
};
absl::string_view ToLabel(StreamReason reason);

// What became of a request the upstream sent to the client.
enum class ServerRequestOutcome {
  kAnswered,      // a backend answered it (Respond)
  kPingAnswered,  // Shadowcat answered a ping itself (PI-01)
  kTimedOut,      // nobody answered in time; an error went back
  kCount,
};
absl::string_view ToLabel(ServerRequestOutcome outcome);

class ShadowcatMetrics {
 public:
  ShadowcatMetrics();
  ShadowcatMetrics(const ShadowcatMetrics&) = delete;
  ShadowcatMetrics& operator=(const ShadowcatMetrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }
  // The Prometheus text exposition of every metric.
  std::string Serialize() const;

  // Counters.
  prometheus::Counter& allowlist_denials_total() {
    return *allowlist_denials_total_;
  }
  prometheus::Counter& limit_rejections_total(LimitKind limit) {
    return *limit_rejections_[static_cast<int>(limit)];
  }
  prometheus::Counter& parse_errors_total(ParseErrorKind kind) {
    return *parse_errors_[static_cast<int>(kind)];
  }
  prometheus::Counter& sessions_closed_total() {
    return *sessions_closed_total_;
  }
  prometheus::Counter& sessions_expired_total() {
    return *sessions_expired_total_;
  }
  prometheus::Counter& sessions_open_failed_total() {
    return *sessions_open_failed_total_;
  }
  prometheus::Counter& sessions_opened_total() {
    return *sessions_opened_total_;
  }
  prometheus::Counter& backpressure_pauses_total() {
    return *backpressure_pauses_total_;
  }
  prometheus::Counter& backpressure_resumes_total() {
    return *backpressure_resumes_total_;
  }
  // [0] re-established, [1] failed.
  prometheus::Counter& session_reinitializations_total(int failed) {
    return *session_reinitializations_[failed != 0 ? 1 : 0];
  }
  prometheus::Counter& server_requests_total(ServerRequestOutcome outcome) {
    return *server_requests_[static_cast<int>(outcome)];
  }
  prometheus::Counter& sse_events_duplicate_total() {
    return *sse_events_duplicate_total_;
  }
  prometheus::Counter& sse_events_resumed_total() {
    return *sse_events_resumed_total_;
  }
  prometheus::Counter& sse_events_total() { return *sse_events_total_; }
  prometheus::Counter& stream_transitions_total(StreamKind kind,
                                                StreamReason reason) {
    return *stream_transitions_[static_cast<int>(kind)]
                               [static_cast<int>(reason)];
  }
  prometheus::Counter& upstream_bytes_received_total() {
    return *upstream_bytes_received_total_;
  }
  // HTTP status classes: index 1..5 for 1xx..5xx.
  prometheus::Counter& upstream_http_responses_total(int status);
  prometheus::Counter& upstream_requests_total(MethodLabel method,
                                               RequestOutcome outcome) {
    return *upstream_requests_[static_cast<int>(method)]
                              [static_cast<int>(outcome)];
  }

  // Gauges.
  prometheus::Gauge& grpc_streams_active() { return *grpc_streams_active_; }
  prometheus::Gauge& sessions_active() { return *sessions_active_; }
  // The configured limits, so alerts divide by them instead of repeating the
  // flags' values (set once by server/server.cc).
  prometheus::Gauge& sessions_max() { return *sessions_max_; }
  prometheus::Gauge& upstream_requests_active() {
    return *upstream_requests_active_;
  }
  prometheus::Gauge& upstream_requests_max() { return *upstream_requests_max_; }
  prometheus::Gauge& upstream_streams_active(StreamKind kind,
                                             StreamState state) {
    return *streams_active_[static_cast<int>(kind)][static_cast<int>(state)];
  }

  // Histograms.
  prometheus::Histogram& upstream_request_duration_seconds() {
    return *upstream_request_duration_seconds_;
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Counter* allowlist_denials_total_;
  std::array<prometheus::Counter*, static_cast<int>(LimitKind::kCount)>
      limit_rejections_;
  std::array<prometheus::Counter*, static_cast<int>(ParseErrorKind::kCount)>
      parse_errors_;
  prometheus::Counter* sessions_closed_total_;
  prometheus::Counter* sessions_expired_total_;
  prometheus::Counter* sessions_open_failed_total_;
  prometheus::Counter* sessions_opened_total_;
  prometheus::Counter* backpressure_pauses_total_;
  prometheus::Counter* backpressure_resumes_total_;
  std::array<prometheus::Counter*,
             static_cast<int>(ServerRequestOutcome::kCount)>
      server_requests_;
  std::array<prometheus::Counter*, 2> session_reinitializations_;
  prometheus::Counter* sse_events_duplicate_total_;
  prometheus::Counter* sse_events_resumed_total_;
  prometheus::Counter* sse_events_total_;
  std::array<
      std::array<prometheus::Counter*, static_cast<int>(StreamReason::kCount)>,
      static_cast<int>(StreamKind::kCount)>
      stream_transitions_;
  prometheus::Counter* upstream_bytes_received_total_;
  std::array<prometheus::Counter*, 6> upstream_http_responses_;  // [0] = other
  std::array<std::array<prometheus::Counter*,
                        static_cast<int>(RequestOutcome::kCount)>,
             static_cast<int>(MethodLabel::kCount)>
      upstream_requests_;

  prometheus::Gauge* grpc_streams_active_;
  prometheus::Gauge* sessions_active_;
  prometheus::Gauge* sessions_max_;
  prometheus::Gauge* upstream_requests_active_;
  prometheus::Gauge* upstream_requests_max_;
  std::array<
      std::array<prometheus::Gauge*, static_cast<int>(StreamState::kCount)>,
      static_cast<int>(StreamKind::kCount)>
      streams_active_;

  prometheus::Histogram* upstream_request_duration_seconds_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_METRICS_SHADOWCAT_METRICS_H_
