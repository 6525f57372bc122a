// Session: subscriptions/listen, the 2026-07-28 server stream (requirements
// section 13 item 2; spec basic/patterns/subscriptions.mdx). It replaces the
// session era's standalone GET: a POST whose SSE response carries the
// server's change notifications until the client closes it. Shadowcat opens
// one per session when the first Subscribe arrives (or at once with
// open_server_stream), asks for every list change the server's capabilities
// advertise (listen_filter.h), and hands everything the stream carries (the
// acknowledgement included) to the subscribers with sequence numbers, as the
// GET stream does. There is no resumption (RZ-11): a dropped stream is issued
// again as a new request with a new id, after the reconnect policy's backoff,
// and an acknowledgement counts as progress. The stream ends when the last
// subscriber leaves (closing it is the cancellation, CN-07) or the session
// closes. A server that advertises no list changes, or refuses the method,
// has no server stream (kUnsupported): subscribers stay and still get the
// server messages of unary calls, as with a GET answered 405 (SS-04). The
// class is declared in session.h.

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/common/asio_time.h"
#include "core/common/check.h"
#include "core/common/log.h"
#include "core/common/redact.h"
#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/session/listen_filter.h"
#include "core/session/session.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kListenMethod = "subscriptions/listen";

// What to do after the listen stream ended without a response.
enum class ListenEnd { kRetry, kUnsupported, kFail };

ListenEnd ClassifyListenEnd(const StreamEnd& end) {
  switch (end.reason) {
    case StreamReason::kHttpError: {
      const int http = end.http_status;
      absl::StatusOr<JsonRpcMessage> body = ParseJsonRpcMessage(end.error_body);
      const bool unknown_method = body.ok() &&
                                  body->kind == JsonRpcKind::kErrorResponse &&
                                  body->error_code == -32601;
      // Section 13 item 6: an unknown method is 404 + -32601.
      if (http == 404 || http == 405 || unknown_method) {
        return ListenEnd::kUnsupported;
      }
      if (http == 408 || http == 429 || http >= 500) return ListenEnd::kRetry;
      return ListenEnd::kFail;  // 400, 401, 403, ...: asking again won't help
    }
    case StreamReason::kStalled:
    case StreamReason::kBadResponse:
    case StreamReason::kTooLarge:
      return ListenEnd::kFail;
    default:
      return ListenEnd::kRetry;  // dropped, ended, timed out (RZ-11)
  }
}

}  // namespace

void Session::OpenListenStream() {
  SC_DCHECK_ON_STRAND(strand_);
  if (get_stream_ != nullptr || state_ != State::kOpen ||
      server_stream_ == ServerStreamStatus::kUnsupported) {
    return;
  }
  const std::string filter = ListenFilterFor(server_capabilities_raw_);
  if (filter.empty()) {
    // "The server MUST NOT send notification types the client has not
    // explicitly requested": with nothing to request there is no stream.
    server_stream_ = ServerStreamStatus::kUnsupported;
    return;
  }
  if (listen_.retry != nullptr) listen_.retry->cancel();  // opening now
  // A stream opened afresh (not a re-issue after a drop) gets every attempt.
  if (server_stream_ != ServerStreamStatus::kOpen) listen_.policy->Reset();
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(MethodLabel::kOther);
  if (!permits.ok()) {
    SC_LOG(kWarning, "session ", RedactId(id_),
           ": cannot open the listen stream: ", permits.status().message());
    return;
  }
  // RZ-11: every issue is a new request with a new id.
  listen_.id_raw = absl::StrCat(next_request_id_++);
  listen_.acknowledged = false;
  listen_.honours_nothing = false;
  const std::string params =
      WithModernMeta(absl::StrCat("{\"notifications\":", filter, "}"));
  UpstreamStreamOptions options;
  options.kind = StreamKind::kPost;
  options.post_headers = SessionHeaders();
  AddModernRequestHeaders(kListenMethod, params, options.post_headers);
  options.post_body = BuildRequest(listen_.id_raw, kListenMethod, params);
  options.expects_response = true;
  options.mostly_idle = true;
  options.resumable = false;
  get_stream_ = NewStream(std::move(options), *std::move(permits));
  server_stream_ = ServerStreamStatus::kOpen;
  ++requests_total_;
  get_stream_->Start();
}

void Session::OnListenAcknowledged(absl::string_view params_raw) {
  listen_.acknowledged = true;
  listen_.policy->OnConnectionEnded(/*made_progress=*/true);
  std::optional<absl::string_view> honoured =
      FindMemberPath(params_raw, {"notifications"});
  listen_.honours_nothing =
      !honoured.has_value() || IsEmptyListenFilter(*honoured);
}

void Session::OnListenResponse(const JsonRpcMessage& message) {
  SC_DCHECK_ON_STRAND(strand_);
  // The response ends the subscription: the stream has nothing more.
  CloseServerStream(StreamReason::kComplete);
  if (message.kind == JsonRpcKind::kErrorResponse) {
    if (message.error_code == -32601) {
      server_stream_ = ServerStreamStatus::kUnsupported;
      return;
    }
    FailServerStream(absl::UnavailableError(absl::StrCat(
        "the upstream refused subscriptions/listen: JSON-RPC error ",
        message.error_code, ": ", message.error_message)));
    return;
  }
  if (listen_.honours_nothing) {
    // It acknowledged none of what its capabilities advertised, then ended.
    server_stream_ = ServerStreamStatus::kUnsupported;
    return;
  }
  // A graceful end (the server shuts down, say): the spec's signal not to
  // reconnect. A later Subscribe opens it again.
  server_stream_ = ServerStreamStatus::kNotOpened;
  for (auto& subscriber : feed_.TakeSubscribers()) {
    subscriber->Finish(absl::UnavailableError(
        "the upstream ended the subscriptions/listen stream; subscribe again "
        "to reopen it"));
  }
  UpdateBusy();
}

void Session::OnListenStreamEnded(StreamEnd end) {
  SC_DCHECK_ON_STRAND(strand_);
  switch (ClassifyListenEnd(end)) {
    case ListenEnd::kUnsupported:
      server_stream_ = ServerStreamStatus::kUnsupported;
      return;
    case ListenEnd::kFail:
      FailServerStream(end.status);
      return;
    case ListenEnd::kRetry:
      break;
  }
  // An acknowledged stream already counted its progress.
  if (!listen_.acknowledged) listen_.policy->OnConnectionEnded(false);
  if (!listen_.policy->ShouldRetry()) {
    FailServerStream(absl::UnavailableError(absl::StrCat(
        "the subscriptions/listen stream dropped: ", end.status.message(),
        "; gave up after ", listen_.policy->attempts_without_progress() - 1,
        " issues without an acknowledgement")));
    return;
  }
  SC_LOG(kDebug, "session ", RedactId(id_), ": subscriptions/listen ended (",
         end.status.message(), "); issuing it again");
  if (listen_.retry == nullptr) {
    listen_.retry = std::make_unique<boost::asio::steady_timer>(strand_);
  }
  listen_.retry->expires_after(ToTimerDuration(listen_.policy->NextDelay(
      std::nullopt, ReconnectPolicy::ThreadJitter())));
  listen_.retry->async_wait(
      [weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || self == nullptr) return;
        if (self->feed_.subscribers().empty() &&
            !self->params_.open_server_stream) {
          self->server_stream_ = ServerStreamStatus::kNotOpened;
          return;  // nobody to listen for any more
        }
        self->OpenListenStream();
      });
}

void Session::MaybeEndListenStream() {
  SC_DCHECK_ON_STRAND(strand_);
  if (!modern_ || !feed_.subscribers().empty() || params_.open_server_stream) {
    return;
  }
  if (server_stream_ != ServerStreamStatus::kOpen) return;
  // CN-07: closing the response stream is the cancellation (a pending
  // re-issue is cancelled with it).
  CloseServerStream(StreamReason::kCancelled);
  server_stream_ = ServerStreamStatus::kNotOpened;
}

}  // namespace shadowcat
