#include "core/metrics/shadowcat_metrics.h"

#include <iterator>

#include "absl/strings/match.h"
#include "prometheus/text_serializer.h"

namespace shadowcat {
namespace {

prometheus::Counter* NewCounter(prometheus::Registry& registry,
                                const std::string& name,
                                const std::string& help) {
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(registry)
              .Add({});
}

prometheus::Gauge* NewGauge(prometheus::Registry& registry,
                            const std::string& name, const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(
      {});
}

}  // namespace

absl::string_view ToLabel(RequestOutcome outcome) {
  switch (outcome) {
    case RequestOutcome::kOk:
      return "ok";
    case RequestOutcome::kJsonRpcError:
      return "jsonrpc_error";
    case RequestOutcome::kHttpError:
      return "http_error";
    case RequestOutcome::kUnavailable:
      return "unavailable";
    case RequestOutcome::kTimeout:
      return "timeout";
    case RequestOutcome::kCancelled:
      return "cancelled";
    case RequestOutcome::kBadResponse:
      return "bad_response";
    case RequestOutcome::kRejected:
      return "rejected";
    case RequestOutcome::kCount:
      break;
  }
  return "unknown";
}

namespace {
constexpr std::pair<MethodLabel, absl::string_view> kMethodNames[] = {
    {MethodLabel::kInitialize, "initialize"},
    {MethodLabel::kPing, "ping"},
    {MethodLabel::kToolsList, "tools/list"},
    {MethodLabel::kToolsCall, "tools/call"},
    {MethodLabel::kResourcesList, "resources/list"},
    {MethodLabel::kResourcesRead, "resources/read"},
    {MethodLabel::kPromptsList, "prompts/list"},
    {MethodLabel::kPromptsGet, "prompts/get"},
};
}  // namespace

MethodLabel ClassifyMethod(absl::string_view method) {
  for (const auto& [label, name] : kMethodNames) {
    if (method == name) return label;
  }
  if (absl::StartsWith(method, "notifications/"))
    return MethodLabel::kNotification;
  return MethodLabel::kOther;
}

absl::string_view ToLabel(MethodLabel method) {
  for (const auto& [label, name] : kMethodNames) {
    if (label == method) return name;
  }
  switch (method) {
    case MethodLabel::kNotification:
      return "notification";
    case MethodLabel::kResponse:
      return "response";
    default:
      return "other";
  }
}

absl::string_view ToLabel(LimitKind limit) {
  switch (limit) {
    case LimitKind::kSessions:
      return "sessions";
    case LimitKind::kSessionConnections:
      return "session_connections";
    case LimitKind::kTotalConnections:
      return "total_connections";
    case LimitKind::kMessageBytes:
      return "message_bytes";
    case LimitKind::kCount:
      break;
  }
  return "unknown";
}

absl::string_view ToLabel(ParseErrorKind kind) {
  switch (kind) {
    case ParseErrorKind::kCallerJson:
      return "caller_json";
    case ParseErrorKind::kUpstreamJson:
      return "upstream_json";
    case ParseErrorKind::kUpstreamSse:
      return "upstream_sse";
    case ParseErrorKind::kCount:
      break;
  }
  return "unknown";
}

absl::string_view ToLabel(StreamKind kind) {
  return kind == StreamKind::kPost ? "post" : "get";
}

absl::string_view ToLabel(StreamState state) {
  switch (state) {
    case StreamState::kConnecting:
      return "connecting";
    case StreamState::kConnected:
      return "connected";
    case StreamState::kReconnecting:
      return "reconnecting";
    case StreamState::kCount:
      break;
  }
  return "unknown";
}

absl::string_view ToLabel(StreamReason reason) {
  constexpr absl::string_view kNames[] = {
      "connected",   "eof",       "dropped",     "timeout",      "http_retry",
      "complete",    "cancelled", "no_event_id", "exhausted",    "http_error",
      "unsupported", "expired",   "stalled",     "bad_response", "too_large",
      "lost"};
  static_assert(std::size(kNames) == static_cast<size_t>(StreamReason::kCount));
  const auto i = static_cast<size_t>(reason);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

absl::string_view ToLabel(ServerRequestOutcome outcome) {
  switch (outcome) {
    case ServerRequestOutcome::kAnswered:
      return "answered";
    case ServerRequestOutcome::kPingAnswered:
      return "ping_answered";
    case ServerRequestOutcome::kTimedOut:
      return "timed_out";
    case ServerRequestOutcome::kCount:
      break;
  }
  return "unknown";
}

ShadowcatMetrics::ShadowcatMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  allowlist_denials_total_ = NewCounter(
      r, "shadowcat_allowlist_denials_total",
      "OpenSession calls refused because the upstream is not allowed.");
  auto& limits =
      prometheus::BuildCounter()
          .Name("shadowcat_limit_rejections_total")
          .Help("Work refused because a configured limit was reached.")
          .Register(r);
  for (int i = 0; i < static_cast<int>(LimitKind::kCount); ++i) {
    limit_rejections_[i] = &limits.Add(
        {{"limit", std::string(ToLabel(static_cast<LimitKind>(i)))}});
  }
  auto& parse = prometheus::BuildCounter()
                    .Name("shadowcat_parse_errors_total")
                    .Help("Malformed JSON or SSE input, by where it came from.")
                    .Register(r);
  for (int i = 0; i < static_cast<int>(ParseErrorKind::kCount); ++i) {
    parse_errors_[i] = &parse.Add(
        {{"source", std::string(ToLabel(static_cast<ParseErrorKind>(i)))}});
  }
  sessions_closed_total_ =
      NewCounter(r, "shadowcat_sessions_closed_total",
                 "Sessions closed by CloseSession or shutdown.");
  sessions_expired_total_ =
      NewCounter(r, "shadowcat_sessions_expired_total",
                 "Sessions ended because the upstream forgot them (HTTP 404) "
                 "or they idled out.");
  sessions_open_failed_total_ =
      NewCounter(r, "shadowcat_sessions_open_failed_total",
                 "OpenSession calls that did not open a session.");
  sessions_opened_total_ = NewCounter(r, "shadowcat_sessions_opened_total",
                                      "Sessions opened successfully.");
  backpressure_pauses_total_ = NewCounter(
      r, "shadowcat_backpressure_pauses_total",
      "Times an upstream stream stopped reading because a backend read "
      "slowly.");
  backpressure_resumes_total_ =
      NewCounter(r, "shadowcat_backpressure_resumes_total",
                 "Times a paused upstream stream resumed reading.");
  auto& server_requests =
      prometheus::BuildCounter()
          .Name("shadowcat_server_requests_total")
          .Help("Requests upstreams sent to the client, by how they ended.")
          .Register(r);
  for (int i = 0; i < static_cast<int>(ServerRequestOutcome::kCount); ++i) {
    server_requests_[i] = &server_requests.Add(
        {{"outcome",
          std::string(ToLabel(static_cast<ServerRequestOutcome>(i)))}});
  }
  auto& reinit =
      prometheus::BuildCounter()
          .Name("shadowcat_session_reinitializations_total")
          .Help(
              "Upstream sessions re-initialized after a 404 (SM-06), by "
              "outcome.")
          .Register(r);
  session_reinitializations_[0] = &reinit.Add({{"outcome", "ok"}});
  session_reinitializations_[1] = &reinit.Add({{"outcome", "failed"}});
  sse_events_duplicate_total_ =
      NewCounter(r, "shadowcat_sse_events_duplicate_total",
                 "SSE events dropped because their id was already delivered "
                 "(replay overlap after a resume).");
  sse_events_resumed_total_ =
      NewCounter(r, "shadowcat_sse_events_resumed_total",
                 "SSE events received on resumed (Last-Event-ID) streams.");
  sse_events_total_ = NewCounter(r, "shadowcat_sse_events_total",
                                 "SSE events received from upstreams.");
  auto& transitions =
      prometheus::BuildCounter()
          .Name("shadowcat_upstream_stream_transitions_total")
          .Help("Upstream SSE stream state changes, by stream kind and reason.")
          .Register(r);
  auto& streams = prometheus::BuildGauge()
                      .Name("shadowcat_upstream_streams_active")
                      .Help("Upstream SSE streams now, by kind and state.")
                      .Register(r);
  for (int k = 0; k < static_cast<int>(StreamKind::kCount); ++k) {
    const std::string kind(ToLabel(static_cast<StreamKind>(k)));
    for (int i = 0; i < static_cast<int>(StreamReason::kCount); ++i) {
      stream_transitions_[k][i] = &transitions.Add(
          {{"kind", kind},
           {"reason", std::string(ToLabel(static_cast<StreamReason>(i)))}});
    }
    for (int i = 0; i < static_cast<int>(StreamState::kCount); ++i) {
      streams_active_[k][i] = &streams.Add(
          {{"kind", kind},
           {"state", std::string(ToLabel(static_cast<StreamState>(i)))}});
    }
  }
  upstream_bytes_received_total_ =
      NewCounter(r, "shadowcat_upstream_bytes_received_total",
                 "Response body bytes received from upstreams, decoded.");
  auto& http = prometheus::BuildCounter()
                   .Name("shadowcat_upstream_http_responses_total")
                   .Help("Upstream HTTP responses by status class.")
                   .Register(r);
  const char* classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 6; ++i)
    upstream_http_responses_[i] = &http.Add({{"code_class", classes[i]}});
  auto& requests =
      prometheus::BuildCounter()
          .Name("shadowcat_upstream_requests_total")
          .Help("JSON-RPC messages sent upstream, by method and outcome.")
          .Register(r);
  for (int m = 0; m < static_cast<int>(MethodLabel::kCount); ++m) {
    for (int o = 0; o < static_cast<int>(RequestOutcome::kCount); ++o) {
      upstream_requests_[m][o] = &requests.Add(
          {{"method", std::string(ToLabel(static_cast<MethodLabel>(m)))},
           {"outcome", std::string(ToLabel(static_cast<RequestOutcome>(o)))}});
    }
  }
  grpc_streams_active_ = NewGauge(r, "shadowcat_grpc_streams_active",
                                  "gRPC server streams open now.");
  sessions_active_ =
      NewGauge(r, "shadowcat_sessions_active", "Sessions open now.");
  sessions_max_ =
      NewGauge(r, "shadowcat_sessions_max",
               "Configured limit on open sessions (--max_sessions).");
  upstream_requests_active_ = NewGauge(r, "shadowcat_upstream_requests_active",
                                       "Upstream requests in flight now.");
  upstream_requests_max_ =
      NewGauge(r, "shadowcat_upstream_requests_max",
               "Configured limit on upstream requests in flight "
               "(--max_connections_total).");
  upstream_request_duration_seconds_ =
      &prometheus::BuildHistogram()
           .Name("shadowcat_upstream_request_duration_seconds")
           .Help("Time from sending a request upstream to its response.")
           .Register(r)
           .Add({}, prometheus::Histogram::BucketBoundaries{
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                        1, 2.5, 5, 10, 30, 60});
}

prometheus::Counter& ShadowcatMetrics::upstream_http_responses_total(
    int status) {
  int cls = status / 100;
  return *upstream_http_responses_[(cls >= 1 && cls <= 5) ? cls : 0];
}

std::string ShadowcatMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace shadowcat
