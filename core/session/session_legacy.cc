// Session: the legacy HTTP+SSE transport of 2024-11-05 (LG-01..LG-05), used
// when an upstream refuses the Streamable HTTP initialize in the way old
// servers do. One GET opens an SSE stream whose first event, `endpoint`, names
// the URL for every POST; POSTs are answered 202 and their responses arrive on
// that stream, where the session's routing by id (SS-05) finds their callers.
// There is no session id, no protocol version header, no resumption and no
// DELETE: the stream is the session. The class is declared in session.h.

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/common/check.h"
#include "core/common/log.h"
#include "core/common/status_details.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/session/session.h"
#include "core/session/upstream_errors.h"

namespace shadowcat {

bool Session::ShouldFallBackToLegacy(const StreamEnd& end) const {
  if (!deps_.config.legacy_sse_fallback || state_ != State::kInitializing ||
      transport_ != UpstreamTransport::kStreamableHttp ||
      end.reason != StreamReason::kHttpError) {
    return false;
  }
  if (end.http_status != 400 && end.http_status != 404 &&
      end.http_status != 405) {
    return false;  // LG-02: a 401 goes to auth, a 5xx is an outage
  }
  // A JSON-RPC error is a modern server speaking (a version refusal, an
  // unknown method): falling back would hide its answer.
  absl::StatusOr<JsonRpcMessage> message = ParseJsonRpcMessage(end.error_body);
  return !(message.ok() && message->kind == JsonRpcKind::kErrorResponse);
}

void Session::StartLegacyTransport(const std::string& init_id_raw,
                                   StreamEnd end) {
  SC_DCHECK_ON_STRAND(strand_);
  const int http_status = end.http_status;
  absl::StatusOr<RpcResult> outcome = HttpErrorOutcome(end);
  streamable_failure_ =
      outcome.ok() ? absl::UnavailableError(absl::StrCat(
                         "upstream returned HTTP ", http_status, " for POST"))
                   : outcome.status();
  SC_LOG(kInfo, "session ", id_, ": ", RedactedUrl(),
         " answered the Streamable HTTP initialize with HTTP ", http_status,
         "; trying the legacy HTTP+SSE transport (--legacy_sse_fallback)");
  transport_ = UpstreamTransport::kLegacySse;
  legacy_init_id_ = init_id_raw;
  init_stream_ = nullptr;
  OpenLegacyStream();
}

void Session::OpenLegacyStream() {
  SC_DCHECK_ON_STRAND(strand_);
  legacy_post_url_.reset();
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> permits =
      AcquirePermits(MethodLabel::kOther);
  if (!permits.ok()) {
    FinishCall(legacy_init_id_, permits.status());
    return;
  }
  UpstreamStreamOptions options;
  options.kind = StreamKind::kGet;
  options.resumable = false;  // LG-04
  get_stream_ = NewStream(std::move(options), *std::move(permits));
  server_stream_ = ServerStreamStatus::kOpen;
  get_stream_->Start();
}

void Session::OnStreamControlEvent(UpstreamStream& stream,
                                   absl::string_view type,
                                   absl::string_view data) {
  SC_DCHECK_ON_STRAND(strand_);
  if (type != "endpoint" || transport_ != UpstreamTransport::kLegacySse ||
      &stream != get_stream_.get()) {
    return;  // no other event type means anything in MCP
  }
  if (legacy_post_url_.has_value()) {
    SC_LOG(kDebug, "session ", id_, ": ignored a second legacy endpoint event");
    return;
  }
  OnLegacyEndpoint(data);
}

void Session::OnLegacyEndpoint(absl::string_view data) {
  absl::StatusOr<Url> url = ResolveReference(params_.url, data);
  absl::Status refused;
  if (!url.ok()) {
    refused = absl::UnavailableError(absl::StrCat(
        "upstream sent an invalid response: the legacy endpoint event is not "
        "a usable URL: ",
        url.status().message()));
  } else if (url->Origin() != params_.url.Origin()) {
    // LG-03: an upstream must not steer our POSTs (and the caller's
    // credentials) to another origin.
    refused = absl::PermissionDeniedError(absl::StrCat(
        "the legacy endpoint event names another origin (", url->Origin(),
        ", not ", params_.url.Origin(), "); refused"));
  }
  if (!refused.ok()) {
    SC_LOG(kWarning, "session ", id_, ": ", refused.message());
    CloseServerStream(StreamReason::kBadResponse);
    if (!legacy_init_id_.empty()) {
      FinishCall(std::exchange(legacy_init_id_, {}), refused);
    }
    return;
  }
  legacy_post_url_ = *std::move(url);
  if (!legacy_init_id_.empty()) RestartCall(std::exchange(legacy_init_id_, {}));
}

void Session::OnLegacyStreamLost(StreamEnd end) {
  SC_DCHECK_ON_STRAND(strand_);
  server_stream_ = ServerStreamStatus::kFailed;
  const std::string why(end.status.message());
  if (state_ == State::kInitializing || state_ == State::kRecovering) {
    // The initialize (deferred or sent) can get no response any more.
    std::string init_id = std::exchange(legacy_init_id_, {});
    for (const auto& [id_raw, call] : pending_) {
      if (call.method == "initialize") init_id = id_raw;
    }
    if (init_id.empty()) return;
    // The first refusal says most about the upstream: its code and details
    // stay, with the fallback's failure added to its message.
    absl::Status failure =
        state_ == State::kInitializing && !streamable_failure_.ok()
            ? SuffixStatusMessage(
                  streamable_failure_,
                  absl::StrCat("; the legacy HTTP+SSE fallback failed too: ",
                               why))
            : absl::UnavailableError(
                  absl::StrCat("the legacy HTTP+SSE stream failed: ", why));
    FinishCall(init_id, std::move(failure));
    return;
  }
  if (state_ != State::kOpen) return;
  SC_LOG(kInfo, "session ", id_, ": the legacy SSE stream ended: ", why);
  // LG-04: every response in flight was to come on that stream.
  std::vector<std::string> calls;
  for (const auto& [id_raw, call] : pending_) calls.push_back(id_raw);
  for (const std::string& id_raw : calls) {
    FinishCall(id_raw, absl::UnavailableError(absl::StrCat(
                           "the upstream's legacy SSE stream ended before the "
                           "response (",
                           why, "); the request may or may not have run")));
  }
  for (auto& [id_raw, timer] : server_requests_) timer->cancel();
  server_requests_.clear();
  if (deps_.config.session_recovery) {
    BeginRecovery();
    return;
  }
  MarkExpired();
}

bool Session::CanPost() const {
  return transport_ != UpstreamTransport::kLegacySse ||
         legacy_post_url_.has_value();
}

}  // namespace shadowcat
