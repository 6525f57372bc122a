#ifndef SHADOWCAT_CORE_SESSION_UPSTREAM_ERRORS_H_
#define SHADOWCAT_CORE_SESSION_UPSTREAM_ERRORS_H_

// How an upstream's answers end calls and label metrics, used by every path
// that finishes a request, initialize included. HTTP errors are statuses
// built by upstream_http_error.h, never results. Pure.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/rpc_result.h"
#include "core/session/upstream_stream.h"

namespace shadowcat {

// The metrics label of how a request ended.
RequestOutcome OutcomeOf(const absl::Status& status);
RequestOutcome OutcomeOf(const absl::StatusOr<RpcResult>& result);

// A JSON-RPC error response as a result.
RpcResult ErrorResult(const JsonRpcMessage& message);

// How a request's stream ended with an HTTP error: its status (already built
// by the stream with UpstreamHttpError), never a result.
absl::StatusOr<RpcResult> HttpErrorOutcome(const StreamEnd& end);

// How a POSTed notification or response ended: OK when accepted (SH-04).
absl::Status AcceptedStatus(const StreamEnd& end);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_UPSTREAM_ERRORS_H_
