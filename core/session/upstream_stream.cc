#include "core/session/upstream_stream.h"

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/common/asio_time.h"
#include "core/common/check.h"
#include "core/session/upstream_http_error.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

// Error bodies are read only to find a JSON-RPC error in them (SH-07); more is
// noise.
constexpr size_t kMaxErrorBodyBytes = 64 << 10;

// What a completed POST stream may still carry before its connection is
// reused; a server that keeps the stream open longer loses the connection.
constexpr size_t kMaxDrainBytes = 64 << 10;
constexpr absl::Duration kMaxDrainTime = absl::Seconds(1);

std::optional<StreamState> GaugeState(UpstreamStream::State state) {
  switch (state) {
    case UpstreamStream::State::kConnecting:
      return StreamState::kConnecting;
    case UpstreamStream::State::kConnected:
      return StreamState::kConnected;
    case UpstreamStream::State::kReconnecting:
      return StreamState::kReconnecting;
    default:
      return std::nullopt;
  }
}

}  // namespace

UpstreamStream::UpstreamStream(UpstreamStreamOptions options, HttpClient& http,
                               asio::any_io_executor strand,
                               ShadowcatMetrics& metrics,
                               std::weak_ptr<UpstreamStreamDelegate> delegate,
                               std::vector<ConnectionBudget::Permit> permits)
    : options_(std::move(options)),
      http_(http),
      strand_(std::move(strand)),
      metrics_(metrics),
      delegate_(std::move(delegate)),
      permits_(std::move(permits)),
      parser_(SseParserOptions{options_.max_message_bytes}),
      policy_(options_.reconnect) {
  metrics_.upstream_streams_active(options_.kind, StreamState::kConnecting)
      .Increment();
}

UpstreamStream::~UpstreamStream() {
  if (std::optional<StreamState> gauge = GaugeState(state_)) {
    metrics_.upstream_streams_active(options_.kind, *gauge).Decrement();
  }
  // The exchange's handlers hold us weakly; without this the connection would
  // linger until its read timeout.
  if (exchange_ != nullptr) exchange_->Cancel();
}

void UpstreamStream::Start() {
  HttpRequest request;
  request.url = options_.url;
  if (options_.kind == StreamKind::kPost) {
    request.method = "POST";
    request.headers = options_.post_headers;
    request.headers.emplace_back("Content-Type", "application/json");
    // SH-02: both, always.
    request.headers.emplace_back("Accept",
                                 "application/json, text/event-stream");
    request.body = options_.post_body;
    request.mostly_idle = options_.mostly_idle;
  } else {
    std::shared_ptr<UpstreamStreamDelegate> d = delegate();
    if (d == nullptr) return;
    request = GetRequest(*d);
  }
  Connect(std::move(request));
}

HttpRequest UpstreamStream::GetRequest(UpstreamStreamDelegate& d) const {
  HttpRequest request;
  request.method = "GET";  // RZ-02: resumption is always a GET too
  request.url = options_.url;
  request.headers = d.StreamHeaders();
  request.headers.insert(request.headers.end(), options_.get_headers.begin(),
                         options_.get_headers.end());
  request.headers.emplace_back("Accept", "text/event-stream");  // SS-03
  request.mostly_idle = true;
  return request;
}

void UpstreamStream::Connect(HttpRequest request) {
  const uint64_t connection = ++connection_;
  body_kind_ = BodyKind::kNone;
  http_status_ = 0;
  sent_session_id_ = false;
  for (const auto& [name, value] : request.headers) {
    if (absl::EqualsIgnoreCase(name, "Mcp-Session-Id")) sent_session_id_ = true;
  }
  retry_after_.clear();
  www_authenticate_.clear();
  redirect_refusal_.clear();
  body_.clear();
  id_at_connect_ = parser_.last_event_id();
  last_dispatched_id_.clear();
  std::weak_ptr<UpstreamStream> weak = weak_from_this();
  HttpHandlers handlers;
  handlers.on_head = [weak, connection](const HttpResponseHead& head) {
    auto self = weak.lock();
    if (self != nullptr && self->connection_ == connection) self->OnHead(head);
  };
  handlers.on_body = [weak, connection](absl::string_view chunk) {
    auto self = weak.lock();
    if (self != nullptr && self->connection_ == connection) self->OnBody(chunk);
  };
  handlers.on_done = [weak, connection](absl::Status status) {
    auto self = weak.lock();
    if (self != nullptr && self->connection_ == connection) {
      self->OnHttpDone(std::move(status));
    }
  };
  exchange_ = http_.Start(strand_, std::move(request), std::move(handlers));
  // A stream that was paused when its connection broke stays paused: the
  // backend has not caught up yet.
  if (paused_) exchange_->Pause();
}

void UpstreamStream::OnHead(const HttpResponseHead& head) {
  SC_DCHECK(!finished());
  http_status_ = head.status;
  metrics_.upstream_http_responses_total(head.status).Increment();
  if (std::shared_ptr<UpstreamStreamDelegate> d = delegate()) {
    d->OnStreamHead(*this, head);
    if (finished()) return;
  }
  const bool ok = head.status >= 200 && head.status < 300;
  const std::string media = head.MediaType();
  if (!ok) {
    body_kind_ = BodyKind::kError;
    retry_after_ = head.Header("Retry-After").value_or("");
    www_authenticate_ = head.Header("WWW-Authenticate").value_or("");
    redirect_refusal_ = head.redirect_refusal;  // PX-08
    return;
  }
  if (options_.kind == StreamKind::kPost && !options_.expects_response) {
    body_kind_ = BodyKind::kDrain;  // SH-04: 202 (or 204, or 200) for us
    return;
  }
  if (options_.kind == StreamKind::kPost && options_.response_elsewhere &&
      (head.status == 202 || head.status == 204)) {
    body_kind_ = BodyKind::kDrain;  // LG-01: the response comes on the GET
    return;
  }
  if (options_.kind == StreamKind::kPost &&
      (head.status == 202 || head.status == 204)) {
    // SH-06: a request answered without a response must not hang the caller.
    EndWith(BadResponseError(
                absl::StrCat("HTTP ", head.status, " answered a request")),
            StreamReason::kBadResponse);
    return;
  }
  if (media == "text/event-stream") {
    body_kind_ = BodyKind::kSse;
    SetState(State::kConnected, StreamReason::kConnected);
    return;
  }
  if (media == "application/json" && options_.kind == StreamKind::kPost) {
    body_kind_ = BodyKind::kJson;
    return;
  }
  // WS-15: anything but an event stream fails the connection for good.
  EndWith(BadResponseError(absl::StrCat("unexpected Content-Type \"",
                                        media.substr(0, 64), "\"")),
          StreamReason::kBadResponse);
}

void UpstreamStream::OnBody(absl::string_view chunk) {
  if (finished()) return;
  bytes_ += chunk.size();
  metrics_.upstream_bytes_received_total().Increment(
      static_cast<double>(chunk.size()));
  switch (body_kind_) {
    case BodyKind::kNone:
    case BodyKind::kDrain:
      return;
    case BodyKind::kError:
      if (body_.size() < kMaxErrorBodyBytes) {
        absl::string_view kept =
            chunk.substr(0, kMaxErrorBodyBytes - body_.size());
        body_.append(kept.data(), kept.size());
      }
      return;
    case BodyKind::kJson:
      if (body_.size() + chunk.size() > options_.max_message_bytes) {
        metrics_.limit_rejections_total(LimitKind::kMessageBytes).Increment();
        EndWith(absl::ResourceExhaustedError(
                    absl::StrCat("upstream response exceeds ",
                                 options_.max_message_bytes, " bytes")),
                StreamReason::kTooLarge);
        return;
      }
      body_.append(chunk.data(), chunk.size());
      return;
    case BodyKind::kSse: {
      absl::Status status = parser_.Feed(
          chunk, [this](const SseEvent& event) { OnSseEvent(event); });
      if (!status.ok() && !finished()) {
        // The parser dropped the event whole and kept its cursor, so the
        // stream stays usable; but the request it answered may be lost.
        metrics_.limit_rejections_total(LimitKind::kMessageBytes).Increment();
        metrics_.parse_errors_total(ParseErrorKind::kUpstreamSse).Increment();
        EndWith(absl::ResourceExhaustedError(
                    absl::StrCat("upstream SSE event exceeds ",
                                 options_.max_message_bytes, " bytes")),
                StreamReason::kTooLarge);
      }
      return;
    }
  }
}

void UpstreamStream::OnSseEvent(const SseEvent& event) {
  if (finished()) return;
  ++events_;
  metrics_.sse_events_total().Increment();
  if (resumed_connection_) metrics_.sse_events_resumed_total().Increment();
  // Ids are sticky (WS-13): an event is named by an `id` field of its own
  // that differs from the connection's previous one. A repeat within a
  // connection is tolerated as "no id"; the first id of a new connection
  // always counts, so a server that replays the event Last-Event-ID named
  // has it dropped as a duplicate (SS-06).
  std::string new_id;
  if (parser_.event_has_id() && event.id != last_dispatched_id_) {
    last_dispatched_id_ = event.id;
    new_id = event.id;
  }
  // RZ-04: empty data primes the cursor and carries no message; MCP sends
  // JSON-RPC only as "message" events.
  if (event.data.empty()) return;
  if (event.type != "message") {
    if (std::shared_ptr<UpstreamStreamDelegate> d = delegate()) {
      d->OnStreamControlEvent(*this, event.type, event.data);
    }
    return;
  }
  Deliver(event.data, new_id);
}

void UpstreamStream::Deliver(std::string json,
                             const std::string& new_event_id) {
  std::shared_ptr<UpstreamStreamDelegate> d = delegate();
  if (d == nullptr) return;
  const EventSink::PushResult pushed =
      d->OnStreamMessage(*this, std::move(json), new_event_id);
  if (pushed == EventSink::PushResult::kPaused && !finished()) Pause();
}

void UpstreamStream::OnHttpDone(absl::Status status) {
  if (finished()) return;
  exchange_.reset();
  if (absl::IsDataLoss(status) && body_kind_ != BodyKind::kError) {
    // PX-07: a body that cannot be decoded is a broken answer, not a drop,
    // so it is never resumed. (An error answer keeps its HTTP status.)
    metrics_
        .parse_errors_total(body_kind_ == BodyKind::kSse
                                ? ParseErrorKind::kUpstreamSse
                                : ParseErrorKind::kUpstreamJson)
        .Increment();
    EndWith(BadResponseError(status.message()), StreamReason::kBadResponse);
    return;
  }
  switch (body_kind_) {
    case BodyKind::kNone:
      // Failed before a head (connect, write) or after an abort.
      if (state_ == State::kReconnecting || resumed_connection_) {
        OnSseEnded(std::move(status));
        return;
      }
      EndWith(status.ok() ? absl::UnavailableError(
                                "upstream closed the connection without a "
                                "response")
                          : std::move(status),
              absl::IsDeadlineExceeded(status) ? StreamReason::kTimeout
                                               : StreamReason::kDropped);
      return;
    case BodyKind::kDrain:
      if (!status.ok()) {
        EndWith(std::move(status), StreamReason::kDropped);
        return;
      }
      EndWith(absl::OkStatus(), StreamReason::kComplete);
      return;
    case BodyKind::kJson: {
      if (!status.ok()) {
        EndWith(std::move(status), StreamReason::kDropped);
        return;
      }
      Deliver(std::move(body_), "");
      if (!finished()) EndWith(absl::OkStatus(), StreamReason::kComplete);
      return;
    }
    case BodyKind::kError: {
      HttpErrorAnswer answer;
      answer.http_status = http_status_;
      answer.request_method =
          options_.kind == StreamKind::kPost && !resumed_connection_ ? "POST"
                                                                     : "GET";
      answer.url = options_.url;
      answer.sent_session_id = sent_session_id_;
      answer.retry_after = std::move(retry_after_);
      answer.www_authenticate = std::move(www_authenticate_);
      answer.redirect_refusal = std::move(redirect_refusal_);
      answer.body = std::move(body_);
      StreamEnd end;
      end.http_status = http_status_;
      end.reason = StreamReason::kHttpError;
      end.status = UpstreamHttpError(answer, absl::Now());
      end.error_body = std::move(answer.body);
      if (resumed_connection_ || options_.kind == StreamKind::kGet) {
        if (http_status_ == 405) {
          // SS-04: no server stream here; not an error, and never retried,
          // also when the 405 answers a reconnect (go-sdk #1175).
          end.reason = options_.kind == StreamKind::kGet
                           ? StreamReason::kUnsupported
                           : StreamReason::kHttpError;
        } else if (http_status_ == 404) {
          end.reason = StreamReason::kExpired;  // SM-08
        } else if (http_status_ == 409 || http_status_ == 429 ||
                   http_status_ >= 500) {
          // A conflict with our own previous GET that the server has not
          // noticed closing yet (SS-08), or a passing overload: try again.
          OnSseEnded(absl::UnavailableError(
                         absl::StrCat("resume answered HTTP ", http_status_)),
                     StreamReason::kHttpRetry);
          return;
        }
      }
      End(std::move(end));
      return;
    }
    case BodyKind::kSse:
      parser_.Finish();
      OnSseEnded(std::move(status));
      return;
  }
}

void UpstreamStream::OnSseEnded(absl::Status status,
                                std::optional<StreamReason> reason) {
  if (!options_.resumable) {
    EndWith(absl::UnavailableError(absl::StrCat(
                "upstream SSE stream ended",
                status.ok() ? "" : absl::StrCat(": ", status.message()))),
            StreamReason::kLost);
    return;
  }
  const bool progress = parser_.last_event_id() != id_at_connect_;
  const StreamReason why = reason.has_value() ? *reason
                           : status.ok()      ? StreamReason::kEof
                           : absl::IsDeadlineExceeded(status)
                               ? StreamReason::kTimeout
                               : StreamReason::kDropped;
  if (parser_.last_event_id().empty() && !options_.reopen_without_event_id) {
    // RZ-09: nothing to resume from, and re-POSTing could run a tool twice.
    EndWith(absl::UnavailableError(
                "upstream closed the SSE stream before responding, without an "
                "event id to resume from"),
            StreamReason::kNoEventId);
    return;
  }
  policy_.OnConnectionEnded(progress);
  if (!policy_.ShouldRetry()) {
    EndWith(absl::UnavailableError(
                absl::StrCat("upstream SSE stream dropped; gave up after ",
                             policy_.attempts_without_progress() - 1,
                             " reconnects without a new event")),
            StreamReason::kExhausted);
    return;
  }
  SetState(State::kReconnecting, why);
  const absl::Duration delay =
      policy_.NextDelay(parser_.retry_ms(), ReconnectPolicy::ThreadJitter());
  boost::asio::steady_timer& timer = reconnect_timer_.Get(strand_);
  timer.expires_after(ToTimerDuration(delay));
  timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || self == nullptr || self->finished()) return;
    self->Reconnect();
  });
}

void UpstreamStream::Reconnect() {
  std::shared_ptr<UpstreamStreamDelegate> d = delegate();
  if (d == nullptr) return;
  ++reconnects_;
  resumed_connection_ = true;
  HttpRequest request = GetRequest(*d);
  // RZ-12: only a non-empty cursor is sent.
  if (!parser_.last_event_id().empty()) {
    request.headers.emplace_back("Last-Event-ID", parser_.last_event_id());
  }
  Connect(std::move(request));
}

void UpstreamStream::Close(StreamReason reason) {
  if (finished()) return;
  reconnect_timer_.Cancel();
  stall_timer_.Cancel();
  SetState(State::kClosed, reason);
  ++connection_;
  if (exchange_ != nullptr) {
    // SS-02: after its response a POST's SSE stream is normally ended by the
    // server at once; draining that end keeps the connection for the next
    // call instead of opening a new one. The slot is free either way.
    if (reason == StreamReason::kComplete &&
        options_.kind == StreamKind::kPost) {
      exchange_->Drain(kMaxDrainBytes, kMaxDrainTime);
    } else {
      exchange_->Cancel();
    }
    exchange_.reset();
  }
  permits_.clear();
}

void UpstreamStream::End(StreamEnd end) {
  if (finished()) return;
  reconnect_timer_.Cancel();
  stall_timer_.Cancel();
  const bool closed =
      end.status.ok() || end.reason == StreamReason::kUnsupported;
  SetState(closed ? State::kClosed : State::kFailed, end.reason);
  ++connection_;
  if (exchange_ != nullptr) {
    exchange_->Cancel();
    exchange_.reset();
  }
  // The connection slot is free before the delegate runs: it may start the
  // next request at once.
  permits_.clear();
  if (std::shared_ptr<UpstreamStreamDelegate> d = delegate()) {
    d->OnStreamEnded(*this, std::move(end));
  }
}

void UpstreamStream::Pause() {
  if (paused_ || finished()) return;
  paused_ = true;
  metrics_.backpressure_pauses_total().Increment();
  if (exchange_ != nullptr) exchange_->Pause();
  ArmStallTimer();
}

void UpstreamStream::Resume() {
  if (!paused_ || finished()) return;
  paused_ = false;
  stall_timer_.Cancel();
  metrics_.backpressure_resumes_total().Increment();
  if (exchange_ != nullptr) exchange_->Resume();
}

void UpstreamStream::ArmStallTimer() {
  if (options_.stall_timeout <= absl::ZeroDuration()) return;
  boost::asio::steady_timer& timer = stall_timer_.Get(strand_);
  timer.expires_after(ToTimerDuration(options_.stall_timeout));
  timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || self == nullptr || !self->paused_ || self->finished()) return;
    self->EndWith(absl::ResourceExhaustedError(absl::StrCat(
                      "the backend read nothing for ",
                      absl::FormatDuration(self->options_.stall_timeout),
                      " (--stream_stall_timeout)")),
                  StreamReason::kStalled);
  });
}

void UpstreamStream::SetState(State state, StreamReason reason) {
  if (state == state_) return;
  if (std::optional<StreamState> gauge = GaugeState(state_)) {
    metrics_.upstream_streams_active(options_.kind, *gauge).Decrement();
  }
  if (std::optional<StreamState> gauge = GaugeState(state)) {
    metrics_.upstream_streams_active(options_.kind, *gauge).Increment();
  }
  metrics_.stream_transitions_total(options_.kind, reason).Increment();
  state_ = state;
}

UpstreamStream::Info UpstreamStream::info() const {
  Info info;
  info.kind = options_.kind;
  info.state = state_;
  info.last_event_id = parser_.last_event_id();
  info.reconnects = reconnects_;
  info.events = events_;
  info.bytes = bytes_;
  info.paused = paused_;
  return info;
}

}  // namespace shadowcat
