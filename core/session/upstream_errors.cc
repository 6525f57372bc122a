#include "core/session/upstream_errors.h"

#include <string>

#include "core/common/status_details.h"
#include "core/session/upstream_http_error.h"

namespace shadowcat {
RequestOutcome OutcomeOf(const absl::Status& status) {
  if (std::optional<StatusDetails> details = GetStatusDetails(status)) {
    if (details->reason == kReasonUpstreamBadResponse) {
      return RequestOutcome::kBadResponse;
    }
    if (details->reason == kReasonUpstreamHttpError) {
      return RequestOutcome::kHttpError;
    }
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

RpcResult ErrorResult(const JsonRpcMessage& message) {
  RpcResult result;
  result.is_error = true;
  result.error_code = message.error_code;
  result.error_message = message.error_message;
  result.error_data_raw = std::string(message.error_data_raw);
  return result;
}

absl::StatusOr<RpcResult> HttpErrorOutcome(const StreamEnd& end) {
  if (end.status.ok()) {
    return absl::InternalError("an HTTP error stream ended without a status");
  }
  return end.status;
}

absl::Status AcceptedStatus(const StreamEnd& end) {
  // SH-04: a rejection, with or without a JSON-RPC error body, is a failure
  // whose status the stream built from the table.
  return end.status;
}

}  // namespace shadowcat
