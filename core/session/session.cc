#include "core/session/session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "core/common/log.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/session/protocol_version.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

// SM-01/SM-02: a session id is visible ASCII (0x21..0x7E); anything else could
// inject headers when echoed back. The length cap keeps a hostile upstream from
// bloating requests.
absl::Status CheckUpstreamSessionId(absl::string_view id) {
  if (id.empty() || id.size() > 1024) {
    return absl::UnavailableError(
        "upstream sent an Mcp-Session-Id of invalid length");
  }
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return absl::UnavailableError(
          "upstream sent an Mcp-Session-Id with invalid characters");
    }
  }
  return absl::OkStatus();
}

RequestOutcome OutcomeOf(const absl::StatusOr<RpcResult>& result) {
  if (result.ok())
    return result->is_error ? RequestOutcome::kJsonRpcError
                            : RequestOutcome::kOk;
  switch (result.status().code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return RequestOutcome::kTimeout;
    case absl::StatusCode::kCancelled:
      return RequestOutcome::kCancelled;
    case absl::StatusCode::kResourceExhausted:
      return RequestOutcome::kRejected;
    case absl::StatusCode::kUnavailable:
      return RequestOutcome::kUnavailable;
    default:
      return RequestOutcome::kHttpError;
  }
}

// A notification or response answered with a JSON-RPC error body (SH-04) is a
// failure.
absl::Status AcceptedStatus(absl::StatusOr<RpcResult> result) {
  if (!result.ok()) return result.status();
  if (result->is_error) {
    return absl::FailedPreconditionError(
        absl::StrCat("upstream rejected the message: ", result->error_message,
                     " (code ", result->error_code, ")"));
  }
  return absl::OkStatus();
}

// Reads the members of an initialize result that Shadowcat needs (LC-01).
absl::StatusOr<InitializeResult> ParseInitializeResult(
    absl::string_view result_raw) {
  absl::StatusOr<std::vector<JsonMember>> members = ScanObject(result_raw);
  if (!members.ok()) {
    return absl::UnavailableError(
        absl::StrCat("upstream initialize result is not an object: ",
                     members.status().message()));
  }
  InitializeResult result;
  const JsonMember* version = FindMember(*members, "protocolVersion");
  if (version == nullptr || version->type != JsonType::kString) {
    return absl::UnavailableError(
        "upstream initialize result has no protocolVersion string");
  }
  absl::StatusOr<std::string> version_text =
      UnescapeJsonString(version->raw_value);
  if (!version_text.ok())
    return absl::UnavailableError("upstream protocolVersion is invalid");
  result.protocol_version = *std::move(version_text);
  if (const JsonMember* caps = FindMember(*members, "capabilities")) {
    result.capabilities_raw = std::string(caps->raw_value);
  }
  if (const JsonMember* info = FindMember(*members, "serverInfo")) {
    result.server_info_raw = std::string(info->raw_value);
  }
  if (const JsonMember* text = FindMember(*members, "instructions");
      text != nullptr && text->type == JsonType::kString) {
    absl::StatusOr<std::string> instructions =
        UnescapeJsonString(text->raw_value);
    if (instructions.ok()) result.instructions = *std::move(instructions);
  }
  return result;
}

}  // namespace

Session::Session(std::string id, SessionParams params, Deps deps)
    : id_(std::move(id)),
      params_(std::move(params)),
      deps_(deps),
      strand_(asio::make_strand(deps.ioc)),
      created_(absl::Now()),
      budget_(std::make_shared<ConnectionBudget>(
          deps.config.max_connections_per_session)),
      last_used_unix_nanos_(absl::ToUnixNanos(absl::Now())) {}

void Session::Touch() {
  last_used_unix_nanos_.store(absl::ToUnixNanos(absl::Now()),
                              std::memory_order_relaxed);
}

absl::Time Session::last_used() const {
  return absl::FromUnixNanos(
      last_used_unix_nanos_.load(std::memory_order_relaxed));
}

HeaderList Session::SessionHeaders() const {
  HeaderList headers = params_.extra_headers;
  if (!upstream_session_id_.empty())
    headers.emplace_back("Mcp-Session-Id", upstream_session_id_);
  headers.emplace_back("MCP-Protocol-Version", protocol_version_);
  return headers;
}

absl::Status Session::CheckOpen() const {
  if (state_ == State::kOpen) return absl::OkStatus();
  return absl::NotFoundError("session is closed or expired");
}

void Session::Initialize(
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  asio::post(strand_, [self = shared_from_this(),
                       done = std::move(done)]() mutable {
    if (self->state_ != State::kNew) {
      done(absl::FailedPreconditionError("session already initialized"));
      return;
    }
    self->state_ = State::kInitializing;
    std::string params = absl::StrCat(
        "{\"protocolVersion\":", QuoteJsonString(self->params_.offered_version),
        ",\"capabilities\":", self->params_.capabilities_raw,
        ",\"clientInfo\":", self->params_.client_info_raw, "}");
    std::string id_raw = absl::StrCat(self->next_request_id_++);
    std::string body = BuildRequest(id_raw, "initialize", params);
    // CN-03: initialize is never cancelled, so the deadline only bounds the
    // wait.
    self->Send("initialize", std::move(body), std::move(id_raw),
               absl::Now() + self->params_.request_timeout, nullptr,
               [self, done = std::move(done)](
                   absl::StatusOr<RpcResult> result) mutable {
                 self->OnInitializeResult(std::move(result), std::move(done));
               });
  });
}

void Session::OnInitializeResult(
    absl::StatusOr<RpcResult> result,
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  auto fail = [this, &done](absl::Status status) {
    state_ = State::kClosed;
    if (!upstream_session_id_.empty()) {
      // VN-03: leave nothing behind upstream when we walk away.
      Close([](bool) {});
    }
    done(std::move(status));
  };
  if (!result.ok()) return fail(result.status());
  if (result->is_error) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("upstream refused initialize: ", result->error_message,
                     " (code ", result->error_code, ")")));
  }
  if (result->session_id_header.has_value()) {
    absl::Status id_ok = CheckUpstreamSessionId(*result->session_id_header);
    if (!id_ok.ok()) return fail(id_ok);
    upstream_session_id_ = *result->session_id_header;
  }
  absl::StatusOr<InitializeResult> init =
      ParseInitializeResult(result->result_raw);
  if (!init.ok()) return fail(init.status());
  absl::Status version_ok = CheckNegotiatedVersion(init->protocol_version);
  if (!version_ok.ok()) return fail(version_ok);
  protocol_version_ =
      init->protocol_version;  // VN-05: the negotiated one, from now on

  std::string body = BuildNotification("notifications/initialized", "");
  Send("notifications/initialized", std::move(body), "",
       absl::Now() + params_.request_timeout, nullptr,
       [self = shared_from_this(), init = *std::move(init),
        done = std::move(done)](absl::StatusOr<RpcResult> sent) mutable {
         absl::Status status = AcceptedStatus(std::move(sent));
         if (!status.ok()) {
           self->state_ = State::kClosed;
           self->Close([](bool) {});
           done(absl::Status(
               status.code(),
               absl::StrCat("notifications/initialized: ", status.message())));
           return;
         }
         self->state_ = State::kOpen;
         self->open_.store(true, std::memory_order_release);
         done(std::move(init));
       });
}

void Session::Call(std::string method, std::string params_raw,
                   absl::Time deadline, RpcExchange::MessageCallback on_message,
                   absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), method = std::move(method),
                       params_raw = std::move(params_raw), deadline,
                       on_message = std::move(on_message),
                       done = std::move(done)]() mutable {
    if (absl::Status open = self->CheckOpen(); !open.ok()) {
      done(open);
      return;
    }
    if (deadline == absl::InfiniteFuture())
      deadline = absl::Now() + self->params_.request_timeout;
    std::string id_raw = absl::StrCat(self->next_request_id_++);
    std::string body = BuildRequest(id_raw, method, params_raw);
    const bool forward = static_cast<bool>(on_message);
    RpcExchange::MessageCallback route =
        [self, forward,
         on_message = std::move(on_message)](UpstreamMessage message) mutable {
          if (message.method == "ping" && !message.id_raw.empty()) {
            self->AnswerPing(message);
          } else if (forward) {
            on_message(std::move(message));
          } else if (!message.id_raw.empty()) {
            // LC-04: nobody here can serve it, but it must still get an answer.
            self->SendResponse(
                BuildErrorResponse(
                    message.id_raw, -32601,
                    "method not available through this Shadowcat call", ""),
                [](absl::Status) {});
          }
        };
    self->Send(method, std::move(body), id_raw, deadline, std::move(route),
               [self, id_raw, done = std::move(done)](
                   absl::StatusOr<RpcResult> result) mutable {
                 if (!result.ok()) {
                   if (absl::IsDeadlineExceeded(result.status()))
                     self->SendCancelled(id_raw);
                   if (absl::IsNotFound(result.status()) &&
                       !self->upstream_session_id_.empty()) {
                     // SM-05: a 404 to a request with a session id means it
                     // expired; SessionManager drops and counts it when it is
                     // next looked up.
                     self->state_ = State::kClosed;
                     self->open_.store(false, std::memory_order_release);
                   }
                 }
                 done(std::move(result));
               });
  });
}

void Session::Notify(std::string method, std::string params_raw,
                     absl::AnyInvocable<void(absl::Status)> done) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), method = std::move(method),
                       params_raw = std::move(params_raw),
                       done = std::move(done)]() mutable {
    if (absl::Status open = self->CheckOpen(); !open.ok()) {
      done(open);
      return;
    }
    std::string body = BuildNotification(method, params_raw);
    self->Send(
        method, std::move(body), "",
        absl::Now() + self->params_.request_timeout, nullptr,
        [done = std::move(done)](absl::StatusOr<RpcResult> result) mutable {
          done(AcceptedStatus(std::move(result)));
        });
  });
}

void Session::SendResponse(std::string response_json,
                           absl::AnyInvocable<void(absl::Status)> done) {
  Touch();
  asio::post(strand_, [self = shared_from_this(),
                       response_json = std::move(response_json),
                       done = std::move(done)]() mutable {
    if (absl::Status open = self->CheckOpen(); !open.ok()) {
      done(open);
      return;
    }
    self->Send(
        "response", std::move(response_json), "",
        absl::Now() + self->params_.request_timeout, nullptr,
        [done = std::move(done)](absl::StatusOr<RpcResult> result) mutable {
          done(AcceptedStatus(std::move(result)));
        });
  });
}

void Session::AnswerPing(const UpstreamMessage& message) {
  SendResponse(BuildResultResponse(message.id_raw, "{}"), [](absl::Status) {});
}

void Session::SendCancelled(const std::string& id_raw) {
  // CN-01: a dropped stream is not a cancellation; say it explicitly.
  std::string params = absl::StrCat("{\"requestId\":", id_raw,
                                    ",\"reason\":\"deadline exceeded\"}");
  Send("notifications/cancelled",
       BuildNotification("notifications/cancelled", params), "",
       absl::Now() + params_.request_timeout, nullptr,
       [](absl::StatusOr<RpcResult>) {});
}

void Session::Send(std::string method, std::string body, std::string id_raw,
                   absl::Time deadline, RpcExchange::MessageCallback on_message,
                   absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done) {
  const MethodLabel label =
      id_raw.empty() ? MethodLabel::kNotification : ClassifyMethod(method);
  ShadowcatMetrics& metrics = deps_.metrics;
  std::optional<ConnectionBudget::Permit> session_permit =
      budget_->TryAcquire();
  if (!session_permit) {
    metrics.limit_rejections_total(LimitKind::kSessionConnections).Increment();
    metrics.upstream_requests_total(label, RequestOutcome::kRejected)
        .Increment();
    done(absl::ResourceExhaustedError(
        absl::StrCat("session has ", budget_->limit(),
                     " upstream requests in flight (the per-session limit)")));
    return;
  }
  std::optional<ConnectionBudget::Permit> global_permit =
      deps_.global_budget->TryAcquire();
  if (!global_permit) {
    metrics.limit_rejections_total(LimitKind::kTotalConnections).Increment();
    metrics.upstream_requests_total(label, RequestOutcome::kRejected)
        .Increment();
    done(absl::ResourceExhaustedError(
        "the sidecar's global upstream request limit is reached"));
    return;
  }
  requests_total_.fetch_add(1, std::memory_order_relaxed);
  metrics.upstream_requests_active().Increment();
  const absl::Time started = absl::Now();

  RpcRequest request;
  request.url = params_.url;
  request.headers =
      state_ == State::kInitializing && method == "initialize"
          ? params_.extra_headers  // VN-08: nothing session-bound on initialize
          : SessionHeaders();
  request.body = std::move(body);
  request.id_raw = std::move(id_raw);
  request.method = label;
  RpcExchangeOptions options;
  options.max_message_bytes = deps_.config.max_message_bytes;
  options.deadline = deadline;
  RpcExchange::Start(
      deps_.http, strand_, std::move(request), options, metrics,
      std::move(on_message),
      [self = shared_from_this(), label, started,
       session_permit = std::move(session_permit),
       global_permit = std::move(global_permit),
       done = std::move(done)](absl::StatusOr<RpcResult> result) mutable {
        // The slots are free before `done` runs: it may send the next message
        // at once.
        session_permit.reset();
        global_permit.reset();
        ShadowcatMetrics& m = self->deps_.metrics;
        m.upstream_requests_active().Decrement();
        m.upstream_requests_total(label, OutcomeOf(result)).Increment();
        m.upstream_request_duration_seconds().Observe(
            absl::ToDoubleSeconds(absl::Now() - started));
        done(std::move(result));
      });
}

void Session::Close(absl::AnyInvocable<void(bool upstream_deleted)> done) {
  asio::post(
      strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
        self->state_ = State::kClosed;
        self->open_.store(false, std::memory_order_release);
        if (self->upstream_session_id_.empty()) {
          done(false);
          return;
        }
        HttpRequest request;
        request.method = "DELETE";
        request.url = self->params_.url;
        request.headers = self->SessionHeaders();
        // SM-07: DELETE is bounded; a silent upstream must not hold the close
        // up.
        auto timer = std::make_shared<asio::steady_timer>(self->strand_);
        auto shared_done =
            std::make_shared<absl::AnyInvocable<void(bool)>>(std::move(done));
        auto status = std::make_shared<int>(0);
        HttpHandlers handlers;
        handlers.on_head = [status](const HttpResponseHead& head) {
          *status = head.status;
        };
        handlers.on_body = [](absl::string_view) {};
        handlers.on_done = [timer, shared_done, status](absl::Status result) {
          timer->cancel();
          if (*shared_done) {
            auto callback = std::move(*shared_done);
            *shared_done = nullptr;
            callback(result.ok() && *status >= 200 && *status < 300);
          }
        };
        std::shared_ptr<HttpExchange> exchange = self->deps_.http.Start(
            self->strand_, std::move(request), std::move(handlers));
        timer->expires_after(
            absl::ToChronoMilliseconds(self->deps_.config.close_timeout));
        // Weak: the exchange's handlers own the timer, so a strong capture
        // here would be a cycle.
        timer->async_wait([weak = std::weak_ptr<HttpExchange>(exchange)](
                              boost::system::error_code ec) {
          if (ec) return;
          if (auto exchange = weak.lock()) exchange->Cancel();
        });
      });
}

SessionSnapshot Session::Snapshot() const {
  SessionSnapshot s;
  s.id = id_;
  s.upstream_url = params_.url.ToString();
  s.protocol_version = protocol_version_;
  s.open = is_open();
  s.has_upstream_session = !upstream_session_id_.empty();
  s.requests_total = requests_total_.load(std::memory_order_relaxed);
  s.requests_in_flight = static_cast<uint32_t>(budget_->in_use());
  s.age = absl::Now() - created_;
  return s;
}

}  // namespace shadowcat
