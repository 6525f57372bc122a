#ifndef SHADOWCAT_SERVER_CONVERSIONS_H_
#define SHADOWCAT_SERVER_CONVERSIONS_H_

// The one place where core types become proto and gRPC types.

#include "absl/status/status.h"
#include "core/session/rpc_result.h"
#include "core/session/session.h"
#include "grpcpp/support/status.h"
#include "shadowcat/v1/shadowcat.pb.h"

namespace shadowcat {

// absl and gRPC share the canonical code numbers, so the mapping is direct.
grpc::Status ToGrpcStatus(const absl::Status& status);

void ToProto(const RpcResult& result, v1::CallResponse* out);
void ToProto(const SessionSnapshot& snapshot, v1::SessionInfo* out);
v1::UpstreamTransport ToProto(UpstreamTransport transport);
v1::ProtocolEra ToProto(ProtocolEra era);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_CONVERSIONS_H_
