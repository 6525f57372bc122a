// Session: requests, cancellation, notifications and responses to the
// upstream (the class is declared in session.h; this file holds its calls).

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "core/common/asio_time.h"
#include "core/common/check.h"
#include "core/common/log.h"
#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/session/session.h"
#include "core/session/upstream_errors.h"
#include "core/session/upstream_http_error.h"

namespace shadowcat {

namespace asio = boost::asio;

// --- Calls -----------------------------------------------------------------

void Session::Call(CallParams params, std::shared_ptr<EventSink> sink) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), params = std::move(params),
                       sink = std::move(sink)]() mutable {
    self->DoCall(std::move(params), std::move(sink));
  });
}

namespace {
// Calls arriving while a recovery runs wait for it, up to this many.
constexpr size_t kMaxQueuedDuringRecovery = 64;
}  // namespace

absl::Status Session::NotOpenStatus() const {
  if (state_ == State::kRecovering) {
    return absl::UnavailableError(
        "the upstream session is being re-established; try again");
  }
  return absl::NotFoundError("session is closed or expired");
}

void Session::DoCall(CallParams params, std::shared_ptr<EventSink> sink) {
  SC_DCHECK_ON_STRAND(strand_);
  if (state_ == State::kRecovering &&
      queued_calls_.size() < kMaxQueuedDuringRecovery) {
    queued_calls_.emplace_back(std::move(params), std::move(sink));
    return;
  }
  absl::Status started = state_ == State::kOpen
                             ? StartCall(std::move(params), sink)
                             : NotOpenStatus();
  if (!started.ok()) sink->Finish(std::move(started));
}

absl::Status Session::StartCall(CallParams params,
                                std::shared_ptr<EventSink> sink) {
  SC_DCHECK_ON_STRAND(strand_);
  const bool is_init = params.method == "initialize" && state_ != State::kOpen;
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
  call.trace_headers = std::move(params.trace_headers);
  options.post_headers.insert(options.post_headers.end(),
                              call.trace_headers.begin(),
                              call.trace_headers.end());
  options.get_headers = call.trace_headers;  // its resumes continue it
  if (modern_) {
    params_raw = WithModernMeta(params_raw);
    AddModernRequestHeaders(params.method, params_raw, options.post_headers);
    options.resumable = false;  // section 13 item 3: re-issue, never resume
  }
  options.post_body = BuildRequest(call.id_raw, params.method, params_raw);
  options.expects_response = true;
  call.method = params.method;
  call.post_body = options.post_body;
  if (CanPost()) {
    call.stream = NewStream(std::move(options), *std::move(permits));
    stream_calls_.emplace(call.stream.get(), call.id_raw);
    if (is_init) init_stream_ = call.stream.get();
  } else {
    // A legacy initialize waits for the endpoint event (OnLegacyEndpoint).
    SC_DCHECK(is_init);
    legacy_init_id_ = call.id_raw;
  }

  absl::Time deadline = params.deadline;
  if (deadline == absl::InfiniteFuture()) {
    deadline = absl::Now() + params_.request_timeout;
  }
  call.deadline = deadline;
  call.initialize = is_init;
  WatchDeadline(deadline, call.id_raw);

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
  UpdateBusy();
  if (stream != nullptr) stream->Start();
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
  UpdateBusy();
  handles_.erase(call.handle);
  if (!call.progress_token.empty()) progress_.erase(call.progress_token);
  deadlines_.erase({call.deadline, call.id_raw});
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
  // In 2026-07-28 the closed stream is the cancellation (section 13 item 5).
  if (cancel_reason.has_value() && !modern_) {
    SendCancelled(id_raw, *cancel_reason, std::move(call.trace_headers));
  }
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

void Session::WatchDeadline(absl::Time deadline, const std::string& id_raw) {
  deadlines_.emplace(deadline, id_raw);
  ArmDeadlineTimer();
}

void Session::ArmDeadlineTimer() {
  if (deadlines_.empty()) return;
  const absl::Time earliest = deadlines_.begin()->first;
  // Calls made with the default timeout end later than those before them, so
  // the timer already waiting usually serves.
  if (deadline_timer_at_.has_value() && *deadline_timer_at_ <= earliest) {
    return;
  }
  deadline_timer_at_ = earliest;
  boost::asio::steady_timer& timer = deadline_timer_.Get(strand_);
  timer.expires_after(ToTimerDuration(earliest - absl::Now()));
  timer.async_wait(
      [weak = weak_from_this(), earliest](boost::system::error_code ec) {
        auto self = weak.lock();
        if (self == nullptr) return;
        // A wait superseded by an earlier deadline is not the timer's now.
        if (self->deadline_timer_at_ != earliest) return;
        self->deadline_timer_at_.reset();
        if (!ec) self->OnDeadlineTimer();
        self->ArmDeadlineTimer();
      });
}

void Session::OnDeadlineTimer() {
  SC_DCHECK_ON_STRAND(strand_);
  const absl::Time now = absl::Now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::string id_raw = deadlines_.begin()->second;
    auto it = pending_.find(id_raw);
    if (it == pending_.end()) {
      deadlines_.erase(deadlines_.begin());  // not expected: FinishCall erases
      continue;
    }
    const bool initialize = it->second.initialize;
    FinishCall(id_raw,
               absl::DeadlineExceededError(
                   "deadline passed before the upstream answered"),
               initialize ? std::nullopt  // CN-03
                          : std::optional<std::string>("deadline exceeded"));
  }
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
    self->FinishCall(
        id_raw, absl::CancelledError(absl::StrCat("call cancelled: ", reason)),
        reason);
    done(absl::OkStatus());
  });
}

void Session::SendCancelled(const std::string& id_raw,
                            const std::string& reason,
                            HeaderList trace_headers) {
  std::string params = absl::StrCat(
      "{\"requestId\":", id_raw, ",\"reason\":", QuoteJsonString(reason), "}");
  // The session may be closing: holding it until the POST is done keeps the
  // stream (and so the notification) from dying with it.
  PostMessage(
      "notifications/cancelled",
      BuildNotification("notifications/cancelled", params),
      [self = shared_from_this()](absl::Status) {}, std::move(trace_headers));
}

namespace {

// Requests a server cannot have run twice by being sent again: those that only
// read. (A tools/call may change the world; the backend decides.)
bool IsIdempotentMethod(absl::string_view method) {
  return method == "tools/list" || method == "resources/list" ||
         method == "resources/read" || method == "resources/templates/list" ||
         method == "prompts/list" || method == "prompts/get" ||
         method == "ping" || method == "completion/complete";
}

}  // namespace

void Session::OnCallStreamEnded(const std::string& id_raw, StreamEnd end) {
  auto it = pending_.find(id_raw);
  if (it == pending_.end()) return;
  it->second.stream.reset();
  // LG-01: the POST was accepted; the response comes on the SSE stream.
  if (end.status.ok() && transport_ == UpstreamTransport::kLegacySse) return;
  if (it->second.method == "initialize" && ShouldSwitchToModern(end)) {
    switching_to_modern_ = true;  // OnInitializeDone discovers instead
    FinishCall(id_raw, absl::UnavailableError(
                           "the upstream speaks only the 2026-07-28 era"));
    return;
  }
  if (it->second.method == "initialize" && ShouldFallBackToLegacy(end)) {
    StartLegacyTransport(id_raw, std::move(end));
    return;
  }
  if (end.status.ok()) {
    FinishCall(id_raw,
               BadResponseError("the body held no response to the request"));
    return;
  }
  const bool recover = deps_.config.session_recovery &&
                       !upstream_session_id_.empty() &&
                       (state_ == State::kOpen || state_ == State::kRecovering);
  if (end.reason == StreamReason::kHttpError && end.http_status == 404 &&
      !upstream_session_id_.empty()) {
    if (recover && it->second.method != "initialize") {
      // SM-06: the server refused this POST for its session id, so it never
      // ran it: send it again in the new session.
      awaiting_recovery_.push_back(id_raw);
      BeginRecovery();
      return;
    }
    MarkExpired();  // SM-05
    FinishCall(id_raw, HttpErrorOutcome(end));
    return;
  }
  if (end.reason == StreamReason::kHttpError) {
    FinishCall(id_raw, HttpErrorOutcome(end));  // SH-07
    return;
  }
  if (end.reason == StreamReason::kExpired) {
    // SM-08: a resume answered 404 while the request may have run.
    if (recover) {
      const bool again = IsIdempotentMethod(it->second.method) ||
                         tool_hints_.IsIdempotentToolCall(it->second.post_body);
      if (again) awaiting_recovery_.push_back(id_raw);
      BeginRecovery();
      if (again) return;
      FinishCall(id_raw,
                 absl::AbortedError(
                     "the upstream session expired while the request ran, "
                     "which it may or may not have done; the session was "
                     "re-established, so calls can go on"));
      return;
    }
    MarkExpired();
    FinishCall(id_raw,
               absl::NotFoundError(absl::StrCat(
                   end.status.message(), ": the upstream session expired")));
    return;
  }
  if (end.reason == StreamReason::kStalled) {
    // TO-01: Shadowcat gives the request up, so the upstream is told.
    FinishCall(id_raw, std::move(end.status),
               "the backend stopped reading (--stream_stall_timeout)");
    return;
  }
  FinishCall(id_raw, std::move(end.status));
}

void Session::RestartCall(const std::string& id_raw) {
  auto it = pending_.find(id_raw);
  if (it == pending_.end()) return;
  PendingCall& call = it->second;
  if (!CanPost()) {
    FinishCall(id_raw, absl::UnavailableError(
                           "the legacy upstream has not named its endpoint"));
    return;
  }
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(call.label);
  if (!permits.ok()) {
    FinishCall(id_raw, permits.status());
    return;
  }
  UpstreamStreamOptions options;
  options.kind = StreamKind::kPost;
  options.post_headers = SessionHeaders();
  options.post_headers.insert(options.post_headers.end(),
                              call.trace_headers.begin(),
                              call.trace_headers.end());
  options.get_headers = call.trace_headers;
  options.post_body = call.post_body;
  options.expects_response = true;
  call.stream = NewStream(std::move(options), *std::move(permits));
  stream_calls_.emplace(call.stream.get(), id_raw);
  call.stream->Start();
}

// --- Notifications and responses ------------------------------------------

void Session::PostMessage(std::string label_method, std::string body,
                          PostDone done, HeaderList trace_headers) {
  SC_DCHECK_ON_STRAND(strand_);
  const MethodLabel label = label_method == "response"
                                ? MethodLabel::kResponse
                                : MethodLabel::kNotification;
  if (!CanPost()) {
    done(absl::UnavailableError(
        "the legacy upstream has not named its endpoint yet"));
    return;
  }
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(label);
  if (!permits.ok()) {
    done(permits.status());
    return;
  }
  UpstreamStreamOptions options;
  options.kind = StreamKind::kPost;
  options.post_headers = SessionHeaders();
  options.post_headers.insert(options.post_headers.end(), trace_headers.begin(),
                              trace_headers.end());
  if (modern_ && label == MethodLabel::kNotification) {
    options.post_headers.emplace_back("Mcp-Method", label_method);
  }
  options.post_body = std::move(body);
  options.expects_response = false;
  std::shared_ptr<UpstreamStream> stream =
      NewStream(std::move(options), *std::move(permits));
  const absl::Time started = absl::Now();
  posts_.emplace(stream.get(), [this, label, started, done = std::move(done)](
                                   absl::Status status) mutable {
    ShadowcatMetrics& m = deps_.metrics;
    m.upstream_requests_total(label, OutcomeOf(status)).Increment();
    m.upstream_request_duration_seconds().Observe(
        absl::ToDoubleSeconds(absl::Now() - started));
    done(std::move(status));
  });
  ++requests_total_;
  stream->Start();
}

void Session::Notify(std::string method, std::string params_raw,
                     absl::AnyInvocable<void(absl::Status)> done,
                     HeaderList trace_headers) {
  Touch();
  asio::post(strand_,
             [self = shared_from_this(), method = std::move(method),
              params_raw = std::move(params_raw), done = std::move(done),
              trace_headers = std::move(trace_headers)]() mutable {
               if (self->state_ != State::kOpen) {
                 done(self->NotOpenStatus());
                 return;
               }
               self->PostMessage(method, BuildNotification(method, params_raw),
                                 std::move(done), std::move(trace_headers));
             });
}

void Session::Respond(std::string id_raw, std::string response_json,
                      absl::AnyInvocable<void(absl::Status)> done) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), id_raw = std::move(id_raw),
                       response_json = std::move(response_json),
                       done = std::move(done)]() mutable {
    if (self->state_ != State::kOpen) {
      done(self->NotOpenStatus());
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

}  // namespace shadowcat
