#include "server/conversions.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_details.h"
#include "core/jsonrpc/json_scan.h"
#include "core/session/upstream_http_error.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace shadowcat {
namespace {

// `json` (valid JSON, UTF-8) with every non-ASCII character as a \u escape,
// and so a valid gRPC metadata value. Invalid UTF-8 becomes U+FFFD.
std::string AsciiJson(absl::string_view json) {
  std::string out;
  auto escape = [&out](uint32_t unit) {
    absl::StrAppend(&out, "\\u", absl::Hex(unit, absl::kZeroPad4));
  };
  for (size_t i = 0; i < json.size();) {
    const unsigned char c = json[i];
    if (c < 0x7f) {
      // Valid JSON has control characters only as whitespace between tokens.
      out += c < 0x20 ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (length == 1 || i + length > json.size() ||
        !IsValidUtf8(json.substr(i, length))) {
      escape(c == 0x7f ? c : 0xfffd);  // DEL occurs only inside strings
      ++i;
      continue;
    }
    uint32_t point = c & (0xff >> (length + 1));
    for (size_t k = 1; k < length; ++k)
      point = (point << 6) | (json[i + k] & 0x3f);
    if (point >= 0x10000) {
      point -= 0x10000;
      escape(0xd800 + (point >> 10));
      escape(0xdc00 + (point & 0x3ff));
    } else {
      escape(point);
    }
    i += length;
  }
  return out;
}

// Header values from upstreams may hold obs-text; metadata may not.
std::string PrintableAscii(absl::string_view value) {
  std::string out(value);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

const google::rpc::ErrorInfo* FindErrorInfo(const google::rpc::Status& rich,
                                            google::rpc::ErrorInfo* storage) {
  for (const google::protobuf::Any& any : rich.details()) {
    if (any.UnpackTo(storage) && storage->domain() == kErrorDomain) {
      return storage;
    }
  }
  return nullptr;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  std::optional<StatusDetails> details = GetStatusDetails(status);
  if (!details.has_value()) return grpc::Status(code, std::move(message));
  google::rpc::Status rich;
  rich.set_code(static_cast<int32_t>(code));
  rich.set_message(message);
  google::rpc::ErrorInfo info;
  info.set_reason(details->reason);
  info.set_domain(kErrorDomain);
  for (const auto& [key, value] : details->metadata) {
    (*info.mutable_metadata())[key] = value;
  }
  rich.add_details()->PackFrom(info);
  int64_t seconds = 0;
  if (std::optional<std::string> delay =
          details->Find(kDetailRetryAfterSeconds);
      delay.has_value() && absl::SimpleAtoi(*delay, &seconds)) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(seconds);
    rich.add_details()->PackFrom(retry);
  }
  return grpc::Status(code, std::move(message), rich.SerializeAsString());
}

std::vector<std::pair<std::string, std::string>> ErrorTrailers(
    const grpc::Status& status) {
  std::vector<std::pair<std::string, std::string>> trailers;
  if (status.ok() || status.error_details().empty()) return trailers;
  google::rpc::Status rich;
  google::rpc::ErrorInfo storage;
  if (!rich.ParseFromString(status.error_details())) return trailers;
  const google::rpc::ErrorInfo* info = FindErrorInfo(rich, &storage);
  if (info == nullptr || info->reason() != kReasonUpstreamHttpError) {
    return trailers;
  }
  const auto& metadata = info->metadata();
  auto value = [&metadata](const char* key) -> std::string {
    auto it = metadata.find(key);
    return it == metadata.end() ? "" : it->second;
  };
  trailers.emplace_back("shadowcat-http-status", value(kDetailHttpStatus));
  if (std::string delay = value(kDetailRetryAfterSeconds); !delay.empty()) {
    trailers.emplace_back("retry-after", delay);
  }
  if (std::string challenge = value(kDetailWwwAuthenticate);
      !challenge.empty()) {
    trailers.emplace_back("www-authenticate", PrintableAscii(challenge));
  }
  if (std::string code = value(kDetailJsonRpcCode); !code.empty()) {
    std::string error = absl::StrCat(
        "{\"code\":", code,
        ",\"message\":", QuoteJsonString(value(kDetailJsonRpcMessage)));
    if (std::string data = value(kDetailJsonRpcData); !data.empty()) {
      absl::StrAppend(&error, ",\"data\":", data);
    }
    error += "}";
    trailers.emplace_back("shadowcat-jsonrpc-error", AsciiJson(error));
  }
  return trailers;
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
