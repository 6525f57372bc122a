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

namespace {

v1::StreamState ToProto(UpstreamStream::State state) {
  switch (state) {
    case UpstreamStream::State::kConnecting:
      return v1::STREAM_STATE_CONNECTING;
    case UpstreamStream::State::kConnected:
      return v1::STREAM_STATE_CONNECTED;
    case UpstreamStream::State::kReconnecting:
      return v1::STREAM_STATE_RECONNECTING;
    case UpstreamStream::State::kClosed:
      return v1::STREAM_STATE_CLOSED;
    case UpstreamStream::State::kFailed:
      return v1::STREAM_STATE_FAILED;
  }
  return v1::STREAM_STATE_UNSPECIFIED;
}

v1::ServerStreamStatus ToProto(ServerStreamStatus status) {
  switch (status) {
    case ServerStreamStatus::kNotOpened:
      return v1::SERVER_STREAM_STATUS_NOT_OPENED;
    case ServerStreamStatus::kOpen:
      return v1::SERVER_STREAM_STATUS_OPEN;
    case ServerStreamStatus::kUnsupported:
      return v1::SERVER_STREAM_STATUS_UNSUPPORTED;
    case ServerStreamStatus::kFailed:
      return v1::SERVER_STREAM_STATUS_FAILED;
  }
  return v1::SERVER_STREAM_STATUS_UNSPECIFIED;
}

}  // namespace

v1::UpstreamTransport ToProto(UpstreamTransport transport) {
  switch (transport) {
    case UpstreamTransport::kStreamableHttp:
      return v1::UPSTREAM_TRANSPORT_STREAMABLE_HTTP;
    case UpstreamTransport::kLegacySse:
      return v1::UPSTREAM_TRANSPORT_LEGACY_HTTP_SSE;
  }
  return v1::UPSTREAM_TRANSPORT_UNSPECIFIED;
}

v1::ProtocolEra ToProto(ProtocolEra era) {
  return era == ProtocolEra::kSessionless ? v1::PROTOCOL_ERA_SESSIONLESS
                                          : v1::PROTOCOL_ERA_SESSION;
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
  out->set_server_stream(ToProto(snapshot.server_stream));
  out->set_server_requests_pending(snapshot.server_requests_pending);
  out->set_reinitializations(snapshot.reinitializations);
  out->set_transport(ToProto(snapshot.transport));
  out->set_era(ToProto(snapshot.era));
  for (const StreamSnapshot& stream : snapshot.streams) {
    v1::StreamInfo* info = out->add_streams();
    info->set_kind(stream.info.kind == StreamKind::kPost ? v1::STREAM_KIND_POST
                                                         : v1::STREAM_KIND_GET);
    info->set_state(ToProto(stream.info.state));
    info->set_request_id(stream.request_handle);
    info->set_last_event_id(stream.info.last_event_id);
    info->set_reconnects(stream.info.reconnects);
    info->set_events(stream.info.events);
    info->set_bytes(stream.info.bytes);
    info->set_paused(stream.info.paused);
  }
}

}  // namespace shadowcat
