// Session: what arrives from upstream and where it goes (responses by id,
// server requests and notifications, progress, subscribers, the GET stream,
// flow control). The class is declared in session.h.

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
#include "core/session/session.h"
#include "core/session/upstream_errors.h"
#include "core/session/upstream_http_error.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

// Event ids remembered for de-duplication (SS-06): replay overlaps are short,
// so a window this size catches them at a bounded cost per session.
constexpr size_t kSeenEventIds = 4096;

}  // namespace

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
    UpstreamStream& stream, std::string json, const std::string& new_event_id) {
  SC_DCHECK_ON_STRAND(strand_);
  if (!new_event_id.empty() && IsDuplicateEvent(new_event_id)) {
    deps_.metrics.sse_events_duplicate_total().Increment();
    return EventSink::PushResult::kOk;
  }
  if (LooksLikeBatch(json)) return OnBatch(stream, json);
  absl::StatusOr<JsonRpcMessage> message = ParseJsonRpcMessage(json);
  if (!message.ok()) {
    // LevelDB-Reporter style: count, drop the message, keep the stream.
    deps_.metrics.parse_errors_total(ParseErrorKind::kUpstreamJson).Increment();
    SC_LOG(
        kDebug, "session ", RedactId(id_),
        ": dropped an invalid upstream message: ", message.status().message());
    return EventSink::PushResult::kOk;
  }
  switch (message->kind) {
    case JsonRpcKind::kResultResponse:
    case JsonRpcKind::kErrorResponse: {
      // SS-05: by id, whichever stream carried it.
      const std::string id_raw(message->id_raw);
      if (modern_ && &stream == get_stream_.get()) {
        if (id_raw == listen_.id_raw) OnListenResponse(*message);
        return EventSink::PushResult::kOk;
      }
      auto call = pending_.find(id_raw);
      if (call == pending_.end()) return EventSink::PushResult::kOk;
      if (message->kind == JsonRpcKind::kErrorResponse) {
        FinishCall(id_raw, ErrorResult(*message));
      } else {
        RpcResult result;
        result.result_raw = std::string(message->result_raw);
        // SM-08: which tools may be called again after a recovery.
        if (call->second.method == "tools/list") {
          tool_hints_.Learn(result.result_raw);
        }
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
      if (modern_ && &stream == get_stream_.get() &&
          message->method == "notifications/subscriptions/acknowledged") {
        OnListenAcknowledged(message->params_raw);  // and on to subscribers
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

EventSink::PushResult Session::OnBatch(UpstreamStream& stream,
                                       const std::string& json) {
  if (protocol_version_ != "2025-03-26") {
    // BA-04: batching ended with 2025-06-18; an array is a broken answer.
    deps_.metrics.parse_errors_total(ParseErrorKind::kUpstreamJson).Increment();
    if (auto call = stream_calls_.find(&stream); call != stream_calls_.end()) {
      const std::string id_raw = call->second;
      FinishCall(
          id_raw,
          BadResponseError(absl::StrCat(
              "a JSON-RPC batch (array), which only protocol version "
              "2025-03-26 allows; this session speaks ",
              protocol_version_.empty() ? "none yet" : protocol_version_)));
    }
    return EventSink::PushResult::kOk;
  }
  absl::StatusOr<std::vector<absl::string_view>> elements = ScanArray(json);
  if (!elements.ok()) {
    deps_.metrics.parse_errors_total(ParseErrorKind::kUpstreamJson).Increment();
    return EventSink::PushResult::kOk;
  }
  // BA-01: each element on its own, as if it came alone. The event id was
  // checked once for the whole array, so the elements carry none (a second
  // element would otherwise look like a replayed event). Batches do not nest.
  EventSink::PushResult result = EventSink::PushResult::kOk;
  for (absl::string_view element : *elements) {
    if (LooksLikeBatch(element)) {
      deps_.metrics.parse_errors_total(ParseErrorKind::kUpstreamJson)
          .Increment();
      continue;
    }
    if (OnStreamMessage(stream, std::string(element), "") ==
        EventSink::PushResult::kPaused) {
      result = EventSink::PushResult::kPaused;
    }
  }
  return result;
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
  const EventSink::PushResult result = sink->Push(
      ServerMessage{std::move(mapped), "notifications/progress", "", event_id});
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
  if (auto old = server_requests_.find(id_raw); old != server_requests_.end()) {
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
                  absl::StrCat(
                      "no backend answered this request within ",
                      absl::FormatDuration(deps_.config.server_request_timeout),
                      " (shadowcat --server_request_timeout)"),
                  ""),
              [](absl::Status) {});
}

const std::string* Session::CallStreamFor(const UpstreamStream& stream) const {
  if (auto owner = stream_calls_.find(&stream); owner != stream_calls_.end()) {
    return &owner->second;
  }
  // The legacy transport carries everything on one stream: a server message
  // there can only be for the CallStream in flight when there is exactly one
  // and no subscriber to ask.
  if (transport_ != UpstreamTransport::kLegacySse ||
      &stream != get_stream_.get() || !feed_.subscribers().empty()) {
    return nullptr;
  }
  const std::string* only = nullptr;
  for (const auto& [id_raw, call] : pending_) {
    if (!call.stream_messages) continue;
    if (only != nullptr) return nullptr;
    only = &id_raw;
  }
  return only;
}

EventSink::PushResult Session::RouteServerMessage(UpstreamStream& stream,
                                                  ServerMessage message) {
  if (const std::string* owner = CallStreamFor(stream)) {
    auto call = pending_.find(*owner);
    if (call != pending_.end() && call->second.stream_messages) {
      const std::string id_raw = *owner;
      std::shared_ptr<EventSink> sink = call->second.sink;
      const EventSink::PushResult result = sink->Push(std::move(message));
      if (result == EventSink::PushResult::kClosed) {
        FinishCall(id_raw, absl::CancelledError("the client went away"),
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
      UpdateBusy();
      OnSinkResumed(subscriber.get());
      MaybeEndListenStream();
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
      if (deps_.config.session_recovery) {
        BeginRecovery();
      } else {
        MarkExpired();
      }
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
    if (modern_) {
      OnListenStreamEnded(std::move(end));
      return;
    }
    if (transport_ == UpstreamTransport::kLegacySse) {
      OnLegacyStreamLost(std::move(end));
      return;
    }
    if (end.reason == StreamReason::kUnsupported) {
      // SS-04: remembered for the session; subscribers still get server
      // messages from POST streams.
      server_stream_ = ServerStreamStatus::kUnsupported;
      return;
    }
    if (end.reason == StreamReason::kExpired) {
      if (deps_.config.session_recovery) {
        BeginRecovery();  // reopens the GET stream once it succeeded
        return;
      }
      MarkExpired();
    }
    FailServerStream(absl::UnavailableError(end.status.message()));
  }
}

void Session::FailServerStream(const absl::Status& status) {
  server_stream_ = ServerStreamStatus::kFailed;
  SC_LOG(kInfo, "session ", RedactId(id_),
         ": server stream ended: ", status.message());
  // The code and details (an HTTP refusal's, say) stay.
  const absl::Status ended = SuffixStatusMessage(
      PrefixStatusMessage(status, "the upstream server stream ended: "),
      "; subscribe again to retry");
  for (auto& subscriber : feed_.TakeSubscribers()) subscriber->Finish(ended);
  UpdateBusy();
}

// --- Subscribe and the GET stream -------------------------------------------

void Session::Subscribe(std::optional<uint64_t> after_sequence,
                        std::shared_ptr<EventSink> sink) {
  Touch();
  asio::post(strand_, [self = shared_from_this(), after_sequence,
                       sink = std::move(sink)]() mutable {
    if (self->state_ != State::kOpen && self->state_ != State::kRecovering) {
      sink->Finish(self->NotOpenStatus());
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
    self->UpdateBusy();
    self->OpenServerStream();
  });
}

void Session::Unsubscribe(const EventSink* sink) {
  asio::post(strand_, [self = shared_from_this(), sink] {
    self->feed_.RemoveSubscriber(sink);
    self->UpdateBusy();
    self->OnSinkResumed(sink);
    self->MaybeEndListenStream();
  });
}

void Session::OpenServerStream(HeaderList trace_headers) {
  SC_DCHECK_ON_STRAND(strand_);
  if (modern_) {
    OpenListenStream();
    return;
  }
  // A legacy session's only stream is opened and kept by the session itself.
  if (get_stream_ != nullptr || state_ != State::kOpen ||
      server_stream_ == ServerStreamStatus::kUnsupported ||
      transport_ == UpstreamTransport::kLegacySse) {
    return;
  }
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(MethodLabel::kOther);
  if (!permits.ok()) {
    SC_LOG(kWarning, "session ", RedactId(id_),
           ": cannot open the server stream: ", permits.status().message());
    return;
  }
  UpstreamStreamOptions options;
  options.kind = StreamKind::kGet;
  options.reopen_without_event_id = true;
  options.get_headers = std::move(trace_headers);
  get_stream_ = NewStream(std::move(options), *std::move(permits));
  server_stream_ = ServerStreamStatus::kOpen;
  get_stream_->Start();
}

}  // namespace shadowcat
