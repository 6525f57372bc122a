#ifndef SHADOWCAT_SERVER_CONVERSIONS_H_
#define SHADOWCAT_SERVER_CONVERSIONS_H_

// The one place where core types become proto and gRPC types.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/session/rpc_result.h"
#include "core/session/session.h"
#include "grpcpp/support/status.h"
#include "shadowcat/v1/shadowcat.pb.h"

namespace shadowcat {

// absl and gRPC share the canonical code numbers, so the mapping is direct.
// StatusDetails attached in core/ travel as a google.rpc.Status in the
// binary error details (the `grpc-status-details-bin` trailer): an ErrorInfo
// in domain "shadowcat.v1", plus a RetryInfo when the upstream gave a retry
// delay.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The plain trailing metadata that repeats a status's upstream error details
// for clients that do not decode binary details (the interceptor in
// server/error_trailers.h adds them to every failed call):
// shadowcat-http-status, retry-after, www-authenticate and
// shadowcat-jsonrpc-error (the JSON-RPC error object as JSON, non-ASCII
// escaped). Empty when the status carries none.
std::vector<std::pair<std::string, std::string>> ErrorTrailers(
    const grpc::Status& status);

void ToProto(const RpcResult& result, v1::CallResponse* out);
void ToProto(const SessionSnapshot& snapshot, v1::SessionInfo* out);
v1::UpstreamTransport ToProto(UpstreamTransport transport);
v1::ProtocolEra ToProto(ProtocolEra era);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_CONVERSIONS_H_
