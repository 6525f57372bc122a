#include "core/session/session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "core/common/asio_time.h"
#include "core/common/check.h"
#include "core/common/log.h"
#include "core/common/redact.h"
#include "core/common/status_details.h"
#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/session/outcome_sink.h"
#include "core/session/protocol_version.h"
#include "core/session/upstream_errors.h"

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

ReconnectOptions ReconnectOptionsOf(const Config& config) {
  ReconnectOptions options;
  options.base_delay = config.reconnect_base_delay;
  options.max_delay = config.reconnect_max_delay;
  options.jitter = config.reconnect_jitter;
  options.max_attempts_without_progress = config.reconnect_max_attempts;
  return options;
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
      last_used_unix_nanos_(absl::ToUnixNanos(absl::Now())) {
  listen_.policy =
      std::make_unique<ReconnectPolicy>(ReconnectOptionsOf(deps.config));
}

Session::~Session() {
  // Normally everything ended on the strand (Close). A session dropped without
  // one still owes its sinks an end; sinks synchronize themselves.
  for (auto& [id, call] : pending_) {
    call.sink->Finish(absl::UnavailableError("the session ended"));
  }
  for (auto& subscriber : feed_.TakeSubscribers()) {
    subscriber->Finish(absl::UnavailableError("the session ended"));
  }
  for (auto& [params, sink] : queued_calls_) {
    sink->Finish(absl::UnavailableError("the session ended"));
  }
}

void Session::Touch() {
  last_used_unix_nanos_.store(absl::ToUnixNanos(absl::Now()),
                              std::memory_order_relaxed);
}

void Session::UpdateBusy() {
  busy_.store(!pending_.empty() || !feed_.subscribers().empty(),
              std::memory_order_relaxed);
}

absl::Time Session::last_used() const {
  return absl::FromUnixNanos(
      last_used_unix_nanos_.load(std::memory_order_relaxed));
}

std::string Session::RedactedUrl() const {
  return absl::StrCat(
      params_.url.scheme, "://", params_.url.HostHeader(),
      params_.url.target.substr(0, params_.url.target.find_first_of("?#")));
}

HeaderList Session::SessionHeaders() const {
  // 2024-11-05 had neither a session id header nor a version header.
  if (transport_ == UpstreamTransport::kLegacySse) return params_.extra_headers;
  HeaderList headers = params_.extra_headers;
  if (modern_) {
    // VN-10: on every request, equal to the _meta value.
    headers.emplace_back("MCP-Protocol-Version",
                         std::string(kModernProtocolVersion));
    return headers;
  }
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
  asio::post(strand_,
             [self = shared_from_this(), done = std::move(done)]() mutable {
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
  if (params_.offered_version == kModernProtocolVersion) {
    SendDiscover(std::move(done));  // pinned: no initialize at all
    return;
  }
  if (params_.probe_modern_era) {
    probing_modern_ = true;  // VN-11: the newest era first
    SendDiscover(std::move(done));
    return;
  }
  SendInitialize(std::move(done));
}

void Session::SendInitialize(
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  CallParams call;
  call.method = "initialize";
  call.params_raw = absl::StrCat(
      "{\"protocolVersion\":", QuoteJsonString(params_.offered_version),
      ",\"capabilities\":", params_.capabilities_raw,
      ",\"clientInfo\":", params_.client_info_raw, "}");
  call.handle = "initialize";
  // CN-03: initialize is never cancelled; the deadline only bounds the wait.
  call.deadline = absl::Now() + params_.request_timeout;
  if (state_ == State::kInitializing)
    call.trace_headers = params_.trace_headers;
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  // Weak: the sink lives in pending_, so a strong capture would keep the
  // session alive for as long as an unanswered initialize (one sent while the
  // sidecar stops, say) stays pending.
  auto sink = std::make_shared<OutcomeSink>(
      [weak = weak_from_this(), shared_done](absl::StatusOr<RpcResult> result) {
        if (auto self = weak.lock()) {
          self->OnInitializeDone(std::move(result), std::move(*shared_done));
        } else {
          (*shared_done)(absl::UnavailableError("the session ended"));
        }
      });
  if (absl::Status started = StartCall(std::move(call), sink); !started.ok()) {
    state_ = State::kClosed;
    (*shared_done)(std::move(started));
  }
}

void Session::BeginRecovery() {
  SC_DCHECK_ON_STRAND(strand_);
  if (state_ != State::kOpen) return;  // already recovering, or closed
  state_ = State::kRecovering;
  ++reinitializations_;
  SC_LOG(kInfo, "session ", RedactId(id_),
         ": the upstream forgot the session (HTTP 404); re-initializing");
  // The GET stream belonged to the old upstream session.
  reopen_server_stream_ = get_stream_ != nullptr ||
                          !feed_.subscribers().empty() ||
                          params_.open_server_stream;
  CloseServerStream(StreamReason::kExpired);
  server_stream_ = ServerStreamStatus::kNotOpened;
  // VN-08: the new initialize carries neither the old id nor its version.
  upstream_session_id_.clear();
  protocol_version_.clear();
  init_session_id_.reset();
  // LG-04: a legacy session starts again from a new SSE stream, whose
  // endpoint event sends the initialize.
  const bool legacy = transport_ == UpstreamTransport::kLegacySse;
  if (legacy) legacy_post_url_.reset();
  SendInitialize(
      [weak = weak_from_this()](absl::StatusOr<InitializeResult> result) {
        if (auto self = weak.lock()) self->OnRecovered(result.status());
      });
  if (legacy && state_ == State::kRecovering) OpenLegacyStream();
}

void Session::OnRecovered(absl::Status status) {
  SC_DCHECK_ON_STRAND(strand_);
  deps_.metrics.session_reinitializations_total(status.ok() ? 0 : 1)
      .Increment();
  std::vector<std::string> awaiting = std::exchange(awaiting_recovery_, {});
  auto queued = std::exchange(queued_calls_, {});
  if (!status.ok()) {
    SC_LOG(kWarning, "session ", RedactId(id_),
           ": re-initializing failed: ", status.message());
    MarkExpired();
    const absl::Status gone = absl::NotFoundError(absl::StrCat(
        "session expired and could not be re-established: ", status.message()));
    for (const std::string& id_raw : awaiting) FinishCall(id_raw, gone);
    for (auto& [params, sink] : queued) sink->Finish(gone);
    return;
  }
  if (reopen_server_stream_) OpenServerStream();
  for (const std::string& id_raw : awaiting) RestartCall(id_raw);
  for (auto& [params, sink] : queued) {
    absl::Status started = StartCall(std::move(params), sink);
    if (!started.ok()) sink->Finish(std::move(started));
  }
}

void Session::OnInitializeDone(
    absl::StatusOr<RpcResult> result,
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  SC_DCHECK_ON_STRAND(strand_);
  init_stream_ = nullptr;
  if (std::exchange(switching_to_modern_, false)) {
    SendDiscover(std::move(done));
    return;
  }
  auto fail = [this, &done](absl::Status status) {
    state_ = State::kClosed;
    CloseServerStream(StreamReason::kCancelled);  // the legacy transport's
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
  // The legacy transport's own version is fine there (LG-01).
  const bool legacy_version = transport_ == UpstreamTransport::kLegacySse &&
                              init->protocol_version == kLegacyProtocolVersion;
  if (absl::Status ok = CheckNegotiatedVersion(init->protocol_version);
      !ok.ok() && !legacy_version) {
    return fail(ok);
  }
  protocol_version_ = init->protocol_version;  // VN-05 from now on
  init->transport = transport_;

  // OpenSession's trace context, not a recovery's (SessionParams).
  HeaderList trace =
      state_ == State::kInitializing ? params_.trace_headers : HeaderList{};
  PostMessage(
      "notifications/initialized",
      BuildNotification("notifications/initialized", ""),
      [self = shared_from_this(), init = *std::move(init),
       done = std::move(done), trace](absl::Status status) mutable {
        if (!status.ok()) {
          self->state_ = State::kClosed;
          if (!self->upstream_session_id_.empty()) {
            self->SendDelete([](bool) {});
          }
          done(PrefixStatusMessage(status, "notifications/initialized: "));
          return;
        }
        self->state_ = State::kOpen;
        self->open_.store(true, std::memory_order_release);
        // LC-02: the GET stream only after initialized.
        if (self->params_.open_server_stream) {
          self->OpenServerStream(std::move(trace));
        }
        done(std::move(init));
      },
      trace);
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
  if (transport_ == UpstreamTransport::kLegacySse &&
      options.kind == StreamKind::kPost) {
    SC_DCHECK(legacy_post_url_.has_value());
    options.url = *legacy_post_url_;
    options.response_elsewhere = true;  // LG-01: responses come on the GET
  }
  options.max_message_bytes = deps_.config.max_message_bytes;
  options.stall_timeout = deps_.config.stream_stall_timeout;
  options.reconnect = ReconnectOptionsOf(deps_.config);
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

// --- Lifecycle --------------------------------------------------------------

void Session::CloseServerStream(StreamReason reason) {
  // A subscriptions/listen waiting to be issued again is part of it.
  if (listen_.retry != nullptr) listen_.retry->cancel();
  if (get_stream_ == nullptr) return;
  get_stream_->Close(reason);
  streams_.erase(get_stream_.get());
  get_stream_.reset();
}

void Session::MarkExpired() {
  state_ = State::kClosed;
  open_.store(false, std::memory_order_release);
  CloseServerStream(StreamReason::kCancelled);
  for (auto& subscriber : feed_.TakeSubscribers()) {
    subscriber->Finish(absl::NotFoundError(
        "session expired: the upstream no longer knows it"));
  }
}

void Session::Close(absl::AnyInvocable<void(bool upstream_deleted)> done,
                    HeaderList trace_headers) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done),
                       trace_headers = std::move(trace_headers)]() mutable {
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
    for (auto& [params, sink] : std::exchange(self->queued_calls_, {})) {
      sink->Finish(absl::CancelledError("the session was closed"));
    }
    for (auto& [id_raw, timer] : self->server_requests_) timer->cancel();
    self->server_requests_.clear();
    self->CloseServerStream(StreamReason::kCancelled);
    for (auto& subscriber : self->feed_.TakeSubscribers()) {
      subscriber->Finish(RpcResult{});
    }
    self->SendDelete(std::move(done), std::move(trace_headers));
  });
}

void Session::SendDelete(absl::AnyInvocable<void(bool)> done,
                         HeaderList trace_headers) {
  if (upstream_session_id_.empty()) {
    done(false);
    return;
  }
  HttpRequest request;
  request.method = "DELETE";
  request.url = params_.url;
  request.headers = SessionHeaders();
  request.headers.insert(request.headers.end(), trace_headers.begin(),
                         trace_headers.end());
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
      std::exchange(*shared_done,
                    nullptr)(result.ok() && *status >= 200 && *status < 300);
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
  asio::post(strand_,
             [self = shared_from_this(), done = std::move(done)]() mutable {
               done(self->MakeSnapshot());
             });
}

SessionSnapshot Session::MakeSnapshot() const {
  SC_DCHECK_ON_STRAND(strand_);
  SessionSnapshot s;
  s.id = id_;
  s.upstream_url = RedactedUrl();
  s.protocol_version = protocol_version_;
  s.transport = transport_;
  s.era = modern_ ? ProtocolEra::kSessionless : ProtocolEra::kSession;
  s.open = is_open();
  s.has_upstream_session = !upstream_session_id_.empty();
  s.requests_total = requests_total_;
  s.requests_in_flight = static_cast<uint32_t>(pending_.size());
  s.age = absl::Now() - created_;
  s.server_stream = server_stream_;
  s.server_requests_pending = static_cast<uint32_t>(server_requests_.size());
  s.reinitializations = reinitializations_;
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