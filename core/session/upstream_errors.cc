#include "core/session/upstream_errors.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shadowcat {

RequestOutcome OutcomeOf(const absl::Status& status) {
  // Every "the upstream broke the protocol" error says so in these words.
  if (absl::StrContains(status.message(),
                        "upstream sent an invalid response")) {
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

}  // namespace shadowcat
