#include "core/session/session.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "core/common/check.h"
#include "core/common/log.h"
#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/session/protocol_version.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

// Event ids remembered for de-duplication (SS-06): replay overlaps are short,
// so a window this size catches them at a bounded cost per session.
constexpr size_t kSeenEventIds = 4096;

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

RequestOutcome OutcomeOf(const absl::Status& status) {
  // Every "the upstream broke the protocol" error says so in these words.
  if (absl::StrContains(status.message(), "upstream sent an invalid response")) {
    return RequestOutcome::kBadResponse;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return RequestOutcome::kOk;
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

RequestOutcome OutcomeOf(const absl::StatusOr<RpcResult>& result) {
  if (!result.ok()) return OutcomeOf(result.status());
  return result->is_error ? RequestOutcome::kJsonRpcError : RequestOutcome::kOk;
}

// The gRPC-facing status of an HTTP error without a usable JSON-RPC error.
absl::Status HttpErrorStatus(int code, absl::string_view what) {
  switch (code) {
    case 400:
      return absl::InvalidArgumentError(what);
    case 401:
      return absl::UnauthenticatedError(what);
    case 403:
      return absl::PermissionDeniedError(what);
    case 404:
      return absl::NotFoundError(
          absl::StrCat(what, ": the upstream session expired"));
    case 408:
    case 504:
      return absl::DeadlineExceededError(what);
    case 429:
      return absl::ResourceExhaustedError(what);
    default:
      if (code >= 500) return absl::UnavailableError(what);
      return absl::FailedPreconditionError(what);
  }
}

RpcResult ErrorResult(const JsonRpcMessage& message) {
  RpcResult result;
  result.is_error = true;
  result.error_code = message.error_code;
  result.error_message = message.error_message;
  result.error_data_raw = std::string(message.error_data_raw);
  return result;
}

// SH-07: an HTTP error whose body is a JSON-RPC error reaches the caller as
// that error; otherwise the status says what happened.
absl::StatusOr<RpcResult> HttpErrorOutcome(const StreamEnd& end) {
  absl::StatusOr<JsonRpcMessage> message = ParseJsonRpcMessage(end.error_body);
  if (message.ok() && message->kind == JsonRpcKind::kErrorResponse &&
      end.http_status != 404) {
    return ErrorResult(*message);
  }
  return HttpErrorStatus(end.http_status, end.status.message());
}

// A notification or response answered with a JSON-RPC error body (SH-04) is a
// failure.
absl::Status AcceptedStatus(const StreamEnd& end) {
  if (end.status.ok()) return absl::OkStatus();
  if (end.reason != StreamReason::kHttpError) return end.status;
  absl::StatusOr<RpcResult> outcome = HttpErrorOutcome(end);
  if (!outcome.ok()) return outcome.status();
  return absl::FailedPreconditionError(
      absl::StrCat("upstream rejected the message: ", outcome->error_message,
                   " (code ", outcome->error_code, ")"));
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
  if (!version_text.ok()) {
    return absl::UnavailableError("upstream protocolVersion is invalid");
  }
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

// A sink that only wants the outcome: Shadowcat's own requests (initialize).
class OutcomeSink : public EventSink {
 public:
  explicit OutcomeSink(
      absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done)
      : done_(std::move(done)) {}
  void SetResumeCallback(absl::AnyInvocable<void()>) override {}
  PushResult Push(ServerMessage) override { return PushResult::kOk; }
  void Finish(absl::StatusOr<RpcResult> outcome) override {
    if (done_) std::exchange(done_, nullptr)(std::move(outcome));
  }

 private:
  absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done_;
};

asio::steady_timer::duration ToTimerDuration(absl::Duration d) {
  return std::chrono::duration_cast<asio::steady_timer::duration>(
      absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration())));
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
      feed_(FeedLimits{deps.config.subscribe_buffer_messages,
                       deps.config.subscribe_buffer_bytes}),
      last_used_unix_nanos_(absl::ToUnixNanos(absl::Now())) {}

Session::~Session() {
  // Normally everything ended on the strand (Close). A session dropped without
  // one still owes its sinks an end; sinks synchronize themselves.
  for (auto& [id, call] : pending_) {
    call.sink->Finish(absl::UnavailableError("the session ended"));
  }
  for (auto& subscriber : feed_.TakeSubscribers()) {
    subscriber->Finish(absl::UnavailableError("the session ended"));
  }
}

void Session::Touch() {
  last_used_unix_nanos_.store(absl::ToUnixNanos(absl::Now()),
                              std::memory_order_relaxed);
}

absl::Time Session::last_used() const {
  return absl::FromUnixNanos(
      last_used_unix_nanos_.load(std::memory_order_relaxed));
}

std::string Session::RedactedUrl() const {
  return absl::StrCat(params_.url.scheme, "://", params_.url.HostHeader(),
                      params_.url.target.substr(
                          0, params_.url.target.find_first_of("?#")));
}

HeaderList Session::SessionHeaders() const {
  HeaderList headers = params_.extra_headers;
  if (!upstream_session_id_.empty()) {
    headers.emplace_back("Mcp-Session-Id", upstream_session_id_);
  }
  // VN-04 with the negotiated value (VN-05); absent until one was negotiated,
  // an empty value would be refused by strict servers (VN-07).
  if (!protocol_version_.empty()) {
    headers.emplace_back("MCP-Protocol-Version", protocol_version_);
  }
  return headers;
}

HeaderList Session::StreamHeaders() { return SessionHeaders(); }

// --- Initialize ------------------------------------------------------------

void Session::Initialize(
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  asio::post(strand_, [self = shared_from_this(),
                       done = std::move(done)]() mutable {
    self->DoInitialize(std::move(done));
  });
}

void Session::DoInitialize(
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  SC_DCHECK_ON_STRAND(strand_);
  if (state_ != State::kNew) {
    done(absl::FailedPreconditionError("session already initialized"));
    return;
  }
  state_ = State::kInitializing;
  CallParams call;
  call.method = "initialize";
  call.params_raw = absl::StrCat(
      "{\"protocolVersion\":", QuoteJsonString(params_.offered_version),
      ",\"capabilities\":", params_.capabilities_raw,
      ",\"clientInfo\":", params_.client_info_raw, "}");
  call.handle = "initialize";
  // CN-03: initialize is never cancelled; the deadline only bounds the wait.
  call.deadline = absl::Now() + params_.request_timeout;
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  auto sink = std::make_shared<OutcomeSink>(
      [self = shared_from_this(),
       shared_done](absl::StatusOr<RpcResult> result) {
        self->OnInitializeDone(std::move(result), std::move(*shared_done));
      });
  if (absl::Status started = StartCall(std::move(call), sink); !started.ok()) {
    state_ = State::kClosed;
    (*shared_done)(std::move(started));
  }
}

void Session::OnInitializeDone(
    absl::StatusOr<RpcResult> result,
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  SC_DCHECK_ON_STRAND(strand_);
  init_stream_ = nullptr;
  auto fail = [this, &done](absl::Status status) {
    state_ = State::kClosed;
    // VN-03: leave nothing behind upstream when we walk away.
    if (!upstream_session_id_.empty()) SendDelete([](bool) {});
    done(std::move(status));
  };
  if (!result.ok()) return fail(result.status());
  if (result->is_error) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("upstream refused initialize: ", result->error_message,
                     " (code ", result->error_code, ")")));
  }
  if (init_session_id_.has_value()) {
    absl::Status id_ok = CheckUpstreamSessionId(*init_session_id_);
    if (!id_ok.ok()) return fail(id_ok);
    upstream_session_id_ = *init_session_id_;
  }
  absl::StatusOr<InitializeResult> init =
      ParseInitializeResult(result->result_raw);
  if (!init.ok()) return fail(init.status());
  if (absl::Status ok = CheckNegotiatedVersion(init->protocol_version);
      !ok.ok()) {
    return fail(ok);
  }
  protocol_version_ = init->protocol_version;  // VN-05 from now on

  PostMessage(
      "notifications/initialized",
      BuildNotification("notifications/initialized", ""),
      [self = shared_from_this(), init = *std::move(init),
       done = std::move(done)](absl::Status status) mutable {
        if (!status.ok()) {
          self->state_ = State::kClosed;
          if (!self->upstream_session_id_.empty()) {
            self->SendDelete([](bool) {});
          }
          done(absl::Status(
              status.code(),
              absl::StrCat("notifications/initialized: ", status.message())));
          return;
        }
        self->state_ = State::kOpen;
        self->open_.store(true, std::memory_order_release);
        // LC-02: the GET stream only after initialized.
        if (self->params_.open_server_stream) self->OpenServerStream();
        done(std::move(init));
      });
}

// --- Calls -----------------------------------------------------------------

void Session::Call(CallParams params, std::shared_ptr<EventSink> sink) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), params = std::move(params),
                       sink = std::move(sink)]() mutable {
    self->DoCall(std::move(params), std::move(sink));
  });
}

void Session::DoCall(CallParams params, std::shared_ptr<EventSink> sink) {
  SC_DCHECK_ON_STRAND(strand_);
  absl::Status started =
      state_ == State::kOpen
          ? StartCall(std::move(params), sink)
          : absl::NotFoundError("session is closed or expired");
  if (!started.ok()) sink->Finish(std::move(started));
}

absl::StatusOr<std::vector<ConnectionBudget::Permit>> Session::AcquirePermits(
    MethodLabel label) {
  ShadowcatMetrics& metrics = deps_.metrics;
  std::optional<ConnectionBudget::Permit> session_permit =
      budget_->TryAcquire();
  if (!session_permit) {
    metrics.limit_rejections_total(LimitKind::kSessionConnections).Increment();
    metrics.upstream_requests_total(label, RequestOutcome::kRejected)
        .Increment();
    return absl::ResourceExhaustedError(absl::StrCat(
        "session has ", budget_->limit(),
        " upstream connections open (--max_connections_per_session)"));
  }
  std::optional<ConnectionBudget::Permit> global_permit =
      deps_.global_budget->TryAcquire();
  if (!global_permit) {
    metrics.limit_rejections_total(LimitKind::kTotalConnections).Increment();
    metrics.upstream_requests_total(label, RequestOutcome::kRejected)
        .Increment();
    return absl::ResourceExhaustedError(
        "the sidecar's global upstream connection limit is reached "
        "(--max_connections_total)");
  }
  std::vector<ConnectionBudget::Permit> permits;
  permits.push_back(*std::move(session_permit));
  permits.push_back(*std::move(global_permit));
  return permits;
}

std::shared_ptr<UpstreamStream> Session::NewStream(
    UpstreamStreamOptions options,
    std::vector<ConnectionBudget::Permit> permits) {
  options.url = params_.url;
  options.max_message_bytes = deps_.config.max_message_bytes;
  options.stall_timeout = deps_.config.stream_stall_timeout;
  options.reconnect.base_delay = deps_.config.reconnect_base_delay;
  options.reconnect.max_delay = deps_.config.reconnect_max_delay;
  options.reconnect.jitter = deps_.config.reconnect_jitter;
  options.reconnect.max_attempts_without_progress =
      deps_.config.reconnect_max_attempts;
  auto stream = std::make_shared<UpstreamStream>(
      std::move(options), deps_.http, strand_, deps_.metrics,
      std::weak_ptr<UpstreamStreamDelegate>(shared_from_this()),
      std::move(permits));
  streams_.emplace(stream.get(), stream);
  return stream;
}

void Session::AttachSink(EventSink& sink) {
  sink.SetResumeCallback([weak = weak_from_this(), strand = strand_,
                          key = static_cast<const EventSink*>(&sink)] {
    asio::post(strand, [weak, key] {
      if (auto self = weak.lock()) self->OnSinkResumed(key);
    });
  });
}

absl::Status Session::StartCall(CallParams params,
                                std::shared_ptr<EventSink> sink) {
  SC_DCHECK_ON_STRAND(strand_);
  const bool is_init = state_ == State::kInitializing;
  std::string handle = std::move(params.handle);
  if (handle.empty()) {
    handle = absl::StrCat("sc-", next_handle_++);
  } else if (handles_.contains(handle)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id \"", handle, "\" names a call already in flight"));
  }
  const MethodLabel label = ClassifyMethod(params.method);
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(label);
  if (!permits.ok()) return permits.status();

  PendingCall call;
  call.id_raw = absl::StrCat(next_request_id_++);
  call.handle = handle;
  call.label = label;
  call.sink = std::move(sink);
  call.stream_messages = params.stream_messages;
  call.started = absl::Now();
  std::string params_raw = std::move(params.params_raw);
  // PX-02/PG-01: callers sharing the session may pick the same token, so the
  // upstream sees ours, unique per request, and progress maps back.
  if (std::optional<absl::string_view> token =
          params_raw.empty()
              ? std::nullopt
              : FindMemberPath(params_raw, {"_meta", "progressToken"})) {
    call.caller_progress_token = std::string(*token);
    call.progress_token =
        QuoteJsonString(absl::StrCat("shadowcat-", id_, "-", call.id_raw));
    params_raw = ReplaceSpan(params_raw, *token, call.progress_token);
  }

  UpstreamStreamOptions options;
  options.kind = StreamKind::kPost;
  // VN-08: nothing session-bound on initialize.
  options.post_headers = is_init ? params_.extra_headers : SessionHeaders();
  options.post_body = BuildRequest(call.id_raw, params.method, params_raw);
  options.expects_response = true;
  call.stream = NewStream(std::move(options), *std::move(permits));
  stream_calls_.emplace(call.stream.get(), call.id_raw);
  if (is_init) init_stream_ = call.stream.get();

  absl::Time deadline = params.deadline;
  if (deadline == absl::InfiniteFuture()) {
    deadline = absl::Now() + params_.request_timeout;
  }
  call.deadline = std::make_unique<asio::steady_timer>(strand_);
  call.deadline->expires_after(ToTimerDuration(deadline - absl::Now()));
  call.deadline->async_wait([weak = weak_from_this(), id_raw = call.id_raw,
                             is_init](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || self == nullptr) return;
    self->FinishCall(
        id_raw,
        absl::DeadlineExceededError(
            "deadline passed before the upstream answered"),
        is_init ? std::nullopt  // CN-03
                : std::optional<std::string>("deadline exceeded"));
  });

  AttachSink(*call.sink);
  call.sink->Started(handle);
  handles_.emplace(handle, call.id_raw);
  if (!call.progress_token.empty()) {
    progress_.emplace(call.progress_token, call.id_raw);
  }
  ++requests_total_;
  deps_.metrics.upstream_requests_active().Increment();
  std::shared_ptr<UpstreamStream> stream = call.stream;
  pending_.emplace(call.id_raw, std::move(call));
  stream->Start();
  return absl::OkStatus();
}

void Session::FinishCall(const std::string& id_raw,
                         absl::StatusOr<RpcResult> outcome,
                         std::optional<std::string> cancel_reason) {
  SC_DCHECK_ON_STRAND(strand_);
  auto it = pending_.find(id_raw);
  if (it == pending_.end()) return;  // CN-05: ended already; late is dropped
  PendingCall call = std::move(it->second);
  pending_.erase(it);
  handles_.erase(call.handle);
  if (!call.progress_token.empty()) progress_.erase(call.progress_token);
  if (call.deadline != nullptr) call.deadline->cancel();
  if (call.stream != nullptr) {
    // SS-02: once the response is in (or the call is over), the rest of the
    // stream is of no use; closing it frees the connection slot.
    stream_calls_.erase(call.stream.get());
    paused_by_.erase(call.stream.get());
    call.stream->Close(cancel_reason ? StreamReason::kCancelled
                                     : StreamReason::kComplete);
    streams_.erase(call.stream.get());
  }
  // CN-01: disconnecting is not cancelling; say it, once the slot is free.
  if (cancel_reason.has_value()) SendCancelled(id_raw, *cancel_reason);
  ShadowcatMetrics& m = deps_.metrics;
  m.upstream_requests_active().Decrement();
  m.upstream_requests_total(call.label, OutcomeOf(outcome)).Increment();
  m.upstream_request_duration_seconds().Observe(
      absl::ToDoubleSeconds(absl::Now() - call.started));
  // Streams this sink had paused (progress routed from the GET stream) must
  // not wait for a sink that is gone.
  OnSinkResumed(call.sink.get());
  call.sink->Finish(std::move(outcome));
}

void Session::Cancel(std::string handle, std::string reason,
                     absl::AnyInvocable<void(absl::Status)> done) {
  asio::post(strand_, [self = shared_from_this(), handle = std::move(handle),
                       reason = std::move(reason),
                       done = std::move(done)]() mutable {
    auto it = self->handles_.find(handle);
    if (it == self->handles_.end() || handle == "initialize") {
      done(absl::NotFoundError(
          absl::StrCat("no call \"", handle, "\" is in flight")));
      return;
    }
    const std::string id_raw = it->second;
    if (reason.empty()) reason = "cancelled by the client";
    self->FinishCall(id_raw,
                     absl::CancelledError(absl::StrCat("call cancelled: ",
                                                       reason)),
                     reason);
    done(absl::OkStatus());
  });
}

void Session::SendCancelled(const std::string& id_raw,
                            const std::string& reason) {
  std::string params =
      absl::StrCat("{\"requestId\":", id_raw,
                   ",\"reason\":", QuoteJsonString(reason), "}");
  PostMessage("notifications/cancelled",
              BuildNotification("notifications/cancelled", params),
              [](absl::Status) {});
}

void Session::OnCallStreamEnded(const std::string& id_raw, StreamEnd end) {
  auto it = pending_.find(id_raw);
  if (it == pending_.end()) return;
  it->second.stream.reset();
  if (end.status.ok()) {
    FinishCall(id_raw,
               absl::UnavailableError(
                   "upstream sent an invalid response: the body held no "
                   "response to the request"));
    return;
  }
  if (end.reason == StreamReason::kHttpError) {
    if (end.http_status == 404 && !upstream_session_id_.empty()) {
      MarkExpired();  // SM-05
    }
    FinishCall(id_raw, HttpErrorOutcome(end));
    return;
  }
  if (end.reason == StreamReason::kExpired) {
    MarkExpired();  // SM-08: a resume answered 404
    FinishCall(id_raw, absl::NotFoundError(absl::StrCat(
                           end.status.message(),
                           ": the upstream session expired")));
    return;
  }
  FinishCall(id_raw, std::move(end.status));
}

// --- Notifications and responses ------------------------------------------

void Session::PostMessage(std::string label_method, std::string body,
                          PostDone done) {
  SC_DCHECK_ON_STRAND(strand_);
  const MethodLabel label = label_method == "response"
                                ? MethodLabel::kResponse
                                : MethodLabel::kNotification;
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(label);
  if (!permits.ok()) {
    done(permits.status());
    return;
  }
  UpstreamStreamOptions options;
  options.kind = StreamKind::kPost;
  options.post_headers = SessionHeaders();
  options.post_body = std::move(body);
  options.expects_response = false;
  std::shared_ptr<UpstreamStream> stream =
      NewStream(std::move(options), *std::move(permits));
  const absl::Time started = absl::Now();
  posts_.emplace(stream.get(),
                 [this, label, started,
                  done = std::move(done)](absl::Status status) mutable {
                   ShadowcatMetrics& m = deps_.metrics;
                   m.upstream_requests_total(label, OutcomeOf(status))
                       .Increment();
                   m.upstream_request_duration_seconds().Observe(
                       absl::ToDoubleSeconds(absl::Now() - started));
                   done(std::move(status));
                 });
  ++requests_total_;
  stream->Start();
}

void Session::Notify(std::string method, std::string params_raw,
                     absl::AnyInvocable<void(absl::Status)> done) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), method = std::move(method),
                       params_raw = std::move(params_raw),
                       done = std::move(done)]() mutable {
    if (self->state_ != State::kOpen) {
      done(absl::NotFoundError("session is closed or expired"));
      return;
    }
    self->PostMessage(method, BuildNotification(method, params_raw),
                      std::move(done));
  });
}

void Session::Respond(std::string id_raw, std::string response_json,
                      absl::AnyInvocable<void(absl::Status)> done) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), id_raw = std::move(id_raw),
                       response_json = std::move(response_json),
                       done = std::move(done)]() mutable {
    if (self->state_ != State::kOpen) {
      done(absl::NotFoundError("session is closed or expired"));
      return;
    }
    auto it = self->server_requests_.find(id_raw);
    if (it == self->server_requests_.end()) {
      done(absl::NotFoundError(absl::StrCat(
          "no server request ", id_raw.substr(0, 64),
          " is waiting for an answer (answered, timed out or never sent)")));
      return;
    }
    it->second->cancel();
    self->server_requests_.erase(it);
    self->deps_.metrics.server_requests_total(ServerRequestOutcome::kAnswered)
        .Increment();
    self->PostMessage("response", std::move(response_json), std::move(done));
  });
}

// --- Messages from upstream ------------------------------------------------

void Session::OnStreamHead(UpstreamStream& stream,
                           const HttpResponseHead& head) {
  SC_DCHECK_ON_STRAND(strand_);
  // SM-01: the session id counts only on the initialize response.
  if (&stream == init_stream_) init_session_id_ = head.Header("Mcp-Session-Id");
}

bool Session::IsDuplicateEvent(const std::string& event_id) {
  if (!seen_event_ids_.insert(event_id).second) return true;
  seen_order_.push_back(event_id);
  if (seen_order_.size() > kSeenEventIds) {
    seen_event_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return false;
}

EventSink::PushResult Session::OnStreamMessage(
    UpstreamStream& stream, std::string json,
    const std::string& new_event_id) {
  SC_DCHECK_ON_STRAND(strand_);
  if (!new_event_id.empty() && IsDuplicateEvent(new_event_id)) {
    deps_.metrics.sse_events_duplicate_total().Increment();
    return EventSink::PushResult::kOk;
  }
  absl::StatusOr<JsonRpcMessage> message = ParseJsonRpcMessage(json);
  if (!message.ok()) {
    // LevelDB-Reporter style: count, drop the message, keep the stream.
    deps_.metrics.parse_errors_total(ParseErrorKind::kUpstreamJson)
        .Increment();
    SC_LOG(kDebug, "session ", id_, ": dropped an invalid upstream message: ",
           message.status().message());
    return EventSink::PushResult::kOk;
  }
  switch (message->kind) {
    case JsonRpcKind::kResultResponse:
    case JsonRpcKind::kErrorResponse: {
      // SS-05: by id, whichever stream carried it.
      const std::string id_raw(message->id_raw);
      if (!pending_.contains(id_raw)) return EventSink::PushResult::kOk;
      if (message->kind == JsonRpcKind::kErrorResponse) {
        FinishCall(id_raw, ErrorResult(*message));
      } else {
        RpcResult result;
        result.result_raw = std::string(message->result_raw);
        FinishCall(id_raw, std::move(result));
      }
      return EventSink::PushResult::kOk;
    }
    case JsonRpcKind::kRequest: {
      const std::string id_raw(message->id_raw);
      if (message->method == "ping") {
        // PI-01: answered at once, by Shadowcat.
        deps_.metrics.server_requests_total(ServerRequestOutcome::kPingAnswered)
            .Increment();
        PostMessage("response", BuildResultResponse(id_raw, "{}"),
                    [](absl::Status) {});
        return EventSink::PushResult::kOk;
      }
      OnServerRequest(stream, id_raw, message->method);
      std::string method = message->method;
      return RouteServerMessage(
          stream, ServerMessage{std::move(json), std::move(method), id_raw,
                                new_event_id});
    }
    case JsonRpcKind::kNotification: {
      if (message->method == "notifications/progress") {
        const std::string params(message->params_raw);
        return OnProgress(stream, std::move(json), params, new_event_id);
      }
      if (message->method == "notifications/cancelled") {
        // CN-06: the server withdrew a request of its own.
        if (std::optional<absl::string_view> request_id =
                FindMemberPath(message->params_raw, {"requestId"})) {
          auto it = server_requests_.find(std::string(*request_id));
          if (it != server_requests_.end()) {
            it->second->cancel();
            server_requests_.erase(it);
          }
        }
      }
      std::string method = message->method;
      return RouteServerMessage(
          stream,
          ServerMessage{std::move(json), std::move(method), "", new_event_id});
    }
  }
  return EventSink::PushResult::kOk;
}

EventSink::PushResult Session::OnProgress(UpstreamStream& stream,
                                          std::string json,
                                          const std::string& params_raw,
                                          const std::string& event_id) {
  std::optional<absl::string_view> token =
      FindMemberPath(params_raw, {"progressToken"});
  if (!token.has_value()) return EventSink::PushResult::kOk;
  auto owner = progress_.find(std::string(*token));
  // PG-02: progress for an unknown or finished token is dropped.
  if (owner == progress_.end()) return EventSink::PushResult::kOk;
  PendingCall& call = pending_.at(owner->second);
  if (!call.stream_messages) return EventSink::PushResult::kOk;
  // The token sits inside params, which sits inside json: find it again in
  // json itself to replace it there.
  std::optional<absl::string_view> in_json =
      FindMemberPath(json, {"params", "progressToken"});
  if (!in_json.has_value()) return EventSink::PushResult::kOk;
  std::string mapped = ReplaceSpan(json, *in_json, call.caller_progress_token);
  std::shared_ptr<EventSink> sink = call.sink;
  const EventSink::PushResult result = sink->Push(ServerMessage{
      std::move(mapped), "notifications/progress", "", event_id});
  if (result == EventSink::PushResult::kClosed) {
    FinishCall(call.id_raw, absl::CancelledError("the client went away"),
               "the client went away");
    return EventSink::PushResult::kOk;
  }
  NotePaused(stream, result, sink.get());
  return result;
}

void Session::OnServerRequest(UpstreamStream&, const std::string& id_raw,
                              absl::string_view method) {
  auto timer = std::make_unique<asio::steady_timer>(strand_);
  timer->expires_after(ToTimerDuration(deps_.config.server_request_timeout));
  timer->async_wait(
      [weak = weak_from_this(), id_raw](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!ec && self != nullptr) self->ExpireServerRequest(id_raw);
      });
  if (auto old = server_requests_.find(id_raw);
      old != server_requests_.end()) {
    old->second->cancel();
  }
  server_requests_[id_raw] = std::move(timer);
}

void Session::ExpireServerRequest(const std::string& id_raw) {
  if (server_requests_.erase(id_raw) == 0) return;
  deps_.metrics.server_requests_total(ServerRequestOutcome::kTimedOut)
      .Increment();
  // LC-04: never silence.
  PostMessage("response",
              BuildErrorResponse(
                  id_raw, -32603,
                  absl::StrCat("no backend answered this request within ",
                               absl::FormatDuration(
                                   deps_.config.server_request_timeout),
                               " (shadowcat --server_request_timeout)"),
                  ""),
              [](absl::Status) {});
}

EventSink::PushResult Session::RouteServerMessage(UpstreamStream& stream,
                                                  ServerMessage message) {
  if (auto owner = stream_calls_.find(&stream); owner != stream_calls_.end()) {
    auto call = pending_.find(owner->second);
    if (call != pending_.end() && call->second.stream_messages) {
      std::shared_ptr<EventSink> sink = call->second.sink;
      const EventSink::PushResult result = sink->Push(std::move(message));
      if (result == EventSink::PushResult::kClosed) {
        FinishCall(owner->second, absl::CancelledError("the client went away"),
                   "the client went away");
        return EventSink::PushResult::kOk;
      }
      NotePaused(stream, result, sink.get());
      return result;
    }
  }
  return PushToSubscribers(std::move(message), stream);
}

EventSink::PushResult Session::PushToSubscribers(ServerMessage message,
                                                 UpstreamStream& stream) {
  const ServerMessage& numbered = feed_.Append(std::move(message));
  EventSink::PushResult overall = EventSink::PushResult::kOk;
  const std::vector<std::shared_ptr<EventSink>> subscribers =
      feed_.subscribers();
  for (const std::shared_ptr<EventSink>& subscriber : subscribers) {
    const EventSink::PushResult result = subscriber->Push(numbered);
    if (result == EventSink::PushResult::kClosed) {
      feed_.RemoveSubscriber(subscriber.get());
      OnSinkResumed(subscriber.get());
    } else if (result == EventSink::PushResult::kPaused &&
               overall == EventSink::PushResult::kOk) {
      overall = result;
      NotePaused(stream, result, subscriber.get());
    }
  }
  return overall;
}

void Session::NotePaused(UpstreamStream& stream, EventSink::PushResult result,
                         const EventSink* sink) {
  if (result != EventSink::PushResult::kPaused) return;
  paused_by_.try_emplace(&stream, sink);
}

void Session::OnSinkResumed(const EventSink* sink) {
  SC_DCHECK_ON_STRAND(strand_);
  std::vector<const UpstreamStream*> resumed;
  for (const auto& [stream, by] : paused_by_) {
    if (by == sink) resumed.push_back(stream);
  }
  for (const UpstreamStream* stream : resumed) {
    paused_by_.erase(stream);
    if (auto it = streams_.find(stream); it != streams_.end()) {
      it->second->Resume();
    }
  }
}

void Session::OnStreamEnded(UpstreamStream& stream, StreamEnd end) {
  SC_DCHECK_ON_STRAND(strand_);
  std::shared_ptr<UpstreamStream> keep;
  if (auto it = streams_.find(&stream); it != streams_.end()) {
    keep = std::move(it->second);
    streams_.erase(it);
  }
  paused_by_.erase(&stream);
  if (auto post = posts_.find(&stream); post != posts_.end()) {
    PostDone done = std::move(post->second);
    posts_.erase(post);
    if (end.reason == StreamReason::kHttpError && end.http_status == 404 &&
        !upstream_session_id_.empty()) {
      MarkExpired();
    }
    done(AcceptedStatus(end));
    return;
  }
  if (auto call = stream_calls_.find(&stream); call != stream_calls_.end()) {
    const std::string id_raw = call->second;
    stream_calls_.erase(call);
    OnCallStreamEnded(id_raw, std::move(end));
    return;
  }
  if (&stream == get_stream_.get()) {
    get_stream_.reset();
    if (end.reason == StreamReason::kUnsupported) {
      // SS-04: remembered for the session; subscribers still get server
      // messages from POST streams.
      server_stream_ = ServerStreamStatus::kUnsupported;
      return;
    }
    server_stream_ = ServerStreamStatus::kFailed;
    if (end.reason == StreamReason::kExpired) MarkExpired();
    SC_LOG(kInfo, "session ", id_, ": server stream ended: ",
           end.status.message());
    for (auto& subscriber : feed_.TakeSubscribers()) {
      subscriber->Finish(absl::UnavailableError(
          absl::StrCat("the upstream server stream ended: ",
                       end.status.message(), "; subscribe again to retry")));
    }
  }
}

// --- Subscribe and the GET stream -------------------------------------------

void Session::Subscribe(std::optional<uint64_t> after_sequence,
                        std::shared_ptr<EventSink> sink) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), after_sequence,
                       sink = std::move(sink)]() mutable {
    if (self->state_ != State::kOpen) {
      sink->Finish(absl::NotFoundError("session is closed or expired"));
      return;
    }
    self->AttachSink(*sink);
    if (after_sequence.has_value()) {
      absl::StatusOr<std::vector<ServerMessage>> missed =
          self->feed_.After(*after_sequence);
      if (!missed.ok()) {
        sink->Finish(missed.status());
        return;
      }
      // Bounded by the feed's limits, so the sink may take it all at once.
      for (ServerMessage& message : *missed) sink->Push(std::move(message));
    }
    self->feed_.AddSubscriber(std::move(sink));
    self->OpenServerStream();
  });
}

void Session::Unsubscribe(const EventSink* sink) {
  asio::post(strand_, [self = shared_from_this(), sink] {
    self->feed_.RemoveSubscriber(sink);
    self->OnSinkResumed(sink);
  });
}

void Session::OpenServerStream() {
  SC_DCHECK_ON_STRAND(strand_);
  if (get_stream_ != nullptr || state_ != State::kOpen ||
      server_stream_ == ServerStreamStatus::kUnsupported) {
    return;
  }
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(MethodLabel::kOther);
  if (!permits.ok()) {
    SC_LOG(kWarning, "session ", id_, ": cannot open the server stream: ",
           permits.status().message());
    return;
  }
  UpstreamStreamOptions options;
  options.kind = StreamKind::kGet;
  options.reopen_without_event_id = true;
  get_stream_ = NewStream(std::move(options), *std::move(permits));
  server_stream_ = ServerStreamStatus::kOpen;
  get_stream_->Start();
}

// --- Lifecycle --------------------------------------------------------------

void Session::MarkExpired() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  open_.store(false, std::memory_order_release);
  if (get_stream_ != nullptr) {
    get_stream_->Close(StreamReason::kCancelled);
    streams_.erase(get_stream_.get());
    get_stream_.reset();
  }
  for (auto& subscriber : feed_.TakeSubscribers()) {
    subscriber->Finish(
        absl::NotFoundError("session expired: the upstream no longer knows it"));
  }
}

void Session::Close(absl::AnyInvocable<void(bool upstream_deleted)> done) {
  asio::post(strand_, [self = shared_from_this(),
                       done = std::move(done)]() mutable {
    if (self->state_ == State::kClosed && self->closed_) {
      done(false);  // closed once already: one DELETE is enough
      return;
    }
    self->closed_ = true;
    self->state_ = State::kClosed;
    self->open_.store(false, std::memory_order_release);
    std::vector<std::string> calls;
    for (const auto& [id_raw, call] : self->pending_) calls.push_back(id_raw);
    for (const std::string& id_raw : calls) {
      self->FinishCall(id_raw, absl::CancelledError("the session was closed"),
                       "the session was closed");
    }
    for (auto& [id_raw, timer] : self->server_requests_) timer->cancel();
    self->server_requests_.clear();
    if (self->get_stream_ != nullptr) {
      self->get_stream_->Close(StreamReason::kCancelled);
      self->streams_.erase(self->get_stream_.get());
      self->get_stream_.reset();
    }
    for (auto& subscriber : self->feed_.TakeSubscribers()) {
      subscriber->Finish(RpcResult{});
    }
    self->SendDelete(std::move(done));
  });
}

void Session::SendDelete(absl::AnyInvocable<void(bool)> done) {
  if (upstream_session_id_.empty()) {
    done(false);
    return;
  }
  HttpRequest request;
  request.method = "DELETE";
  request.url = params_.url;
  request.headers = SessionHeaders();
  // SM-07: DELETE is bounded; a silent upstream must not hold the close up.
  auto timer = std::make_shared<asio::steady_timer>(strand_);
  auto shared_done =
      std::make_shared<absl::AnyInvocable<void(bool)>>(std::move(done));
  auto status = std::make_shared<int>(0);
  HttpHandlers handlers;
  handlers.on_head = [this, self = shared_from_this(),
                      status](const HttpResponseHead& head) {
    *status = head.status;
    deps_.metrics.upstream_http_responses_total(head.status).Increment();
  };
  handlers.on_body = [](absl::string_view) {};
  handlers.on_done = [timer, shared_done, status](absl::Status result) {
    timer->cancel();
    if (*shared_done) {
      // 405: termination not allowed, 404: already gone; both are "done".
      std::exchange(*shared_done, nullptr)(result.ok() && *status >= 200 &&
                                           *status < 300);
    }
  };
  std::shared_ptr<HttpExchange> exchange =
      deps_.http.Start(strand_, std::move(request), std::move(handlers));
  timer->expires_after(ToTimerDuration(deps_.config.close_timeout));
  // Weak: the exchange's handlers own the timer, so a strong capture here
  // would be a cycle.
  timer->async_wait([weak = std::weak_ptr<HttpExchange>(exchange)](
                        boost::system::error_code ec) {
    if (ec) return;
    if (auto exchange = weak.lock()) exchange->Cancel();
  });
}

void Session::Describe(absl::AnyInvocable<void(SessionSnapshot)> done) {
  asio::post(strand_, [self = shared_from_this(),
                       done = std::move(done)]() mutable {
    done(self->MakeSnapshot());
  });
}

SessionSnapshot Session::MakeSnapshot() const {
  SC_DCHECK_ON_STRAND(strand_);
  SessionSnapshot s;
  s.id = id_;
  s.upstream_url = RedactedUrl();
  s.protocol_version = protocol_version_;
  s.open = is_open();
  s.has_upstream_session = !upstream_session_id_.empty();
  s.requests_total = requests_total_;
  s.requests_in_flight = static_cast<uint32_t>(pending_.size());
  s.age = absl::Now() - created_;
  s.server_stream = server_stream_;
  s.server_requests_pending = static_cast<uint32_t>(server_requests_.size());
  for (const auto& [ptr, stream] : streams_) {
    if (posts_.contains(ptr)) continue;  // 202s are not streams
    StreamSnapshot snapshot{stream->info(), ""};
    if (auto call = stream_calls_.find(ptr); call != stream_calls_.end()) {
      if (auto pending = pending_.find(call->second);
          pending != pending_.end()) {
        snapshot.request_handle = pending->second.handle;
      }
    }
    s.streams.push_back(std::move(snapshot));
  }
  return s;
}

}  // namespace shadowcat
