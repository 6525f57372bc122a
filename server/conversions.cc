#include "server/conversions.h"

#include <string>

namespace shadowcat {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void ToProto(const RpcResult& result, v1::CallResponse* out) {
  if (result.is_error) {
    v1::JsonRpcError* error = out->mutable_error();
    error->set_code(result.error_code);
    error->set_message(result.error_message);
    error->set_data_json(result.error_data_raw);
  } else {
    out->set_result_json(result.result_raw);
  }
}

void ToProto(const SessionSnapshot& snapshot, v1::SessionInfo* out) {
  out->set_session_id(snapshot.id);
  out->set_upstream_url(snapshot.upstream_url);
  out->set_protocol_version(snapshot.protocol_version);
  out->set_state(snapshot.open ? v1::SESSION_STATE_OPEN
                               : v1::SESSION_STATE_EXPIRED);
  out->set_has_upstream_session(snapshot.has_upstream_session);
  out->set_requests_total(snapshot.requests_total);
  out->set_requests_in_flight(snapshot.requests_in_flight);
  out->set_age_seconds(absl::ToDoubleSeconds(snapshot.age));
}

}  // namespace shadowcat
