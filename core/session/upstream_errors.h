#ifndef SHADOWCAT_CORE_SESSION_UPSTREAM_ERRORS_H_
#define SHADOWCAT_CORE_SESSION_UPSTREAM_ERRORS_H_

// How an upstream's answers map to call outcomes and metric labels: one table,
// used by every path that finishes a request. Pure.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/rpc_result.h"
#include "core/session/upstream_stream.h"

namespace shadowcat {

// The metrics label of how a request ended.
RequestOutcome OutcomeOf(const absl::Status& status);
RequestOutcome OutcomeOf(const absl::StatusOr<RpcResult>& result);

// The status of an HTTP error without a usable JSON-RPC error body.
absl::Status HttpErrorStatus(int code, absl::string_view what);

// A JSON-RPC error response as a result.
RpcResult ErrorResult(const JsonRpcMessage& message);

// SH-07: an HTTP error whose body is a JSON-RPC error reaches the caller as
// that error; otherwise the status says what happened.
absl::StatusOr<RpcResult> HttpErrorOutcome(const StreamEnd& end);

// How a POSTed notification or response ended: OK when accepted (SH-04).
absl::Status AcceptedStatus(const StreamEnd& end);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_UPSTREAM_ERRORS_H_
