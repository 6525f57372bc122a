#include "core/config/config.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/common/status_macros.h"

namespace shadowcat {
namespace {

absl::Status Bad(const char* field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("config: ", field, " ", why));
}

// A file that is named but unreadable is a deployment problem (a missing
// Secret mount), not a typo, hence FailedPrecondition.
absl::Status CheckReadable(const char* name, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("config: ", name, " \"", path,
                     "\" cannot be read: ", std::strerror(errno)));
  }
  std::fclose(file);
  return absl::OkStatus();
}

// TLS to upstreams.
absl::Status ValidateTlsConfig(const Config& config) {
  if (config.tls_min_version != "1.2" && config.tls_min_version != "1.3") {
    return Bad("tls_min_version", "must be \"1.2\" or \"1.3\"");
  }
  if (config.tls_client_cert_file.empty() !=
      config.tls_client_key_file.empty()) {
    return Bad("tls_client_cert_file",
               "and tls_client_key_file must be set together");
  }
  for (auto [name, path] :
       {std::pair{"tls_ca_file", &config.tls_ca_file},
        {"tls_client_cert_file", &config.tls_client_cert_file},
        {"tls_client_key_file", &config.tls_client_key_file}}) {
    SC_RETURN_IF_ERROR(CheckReadable(name, *path));
  }
  return absl::OkStatus();
}

// The gRPC listener's own TLS and caller token.
absl::Status ValidateGrpcSecurity(const Config& config) {
  if (config.grpc_tls_cert_file.empty() != config.grpc_tls_key_file.empty()) {
    return Bad("grpc_tls_cert_file",
               "and grpc_tls_key_file must be set together");
  }
  if (!config.grpc_tls_client_ca_file.empty() &&
      config.grpc_tls_cert_file.empty()) {
    return Bad("grpc_tls_client_ca_file",
               "needs grpc_tls_cert_file and grpc_tls_key_file (mTLS is TLS)");
  }
  if (config.grpc_credentials_reload_interval < absl::Seconds(1)) {
    return Bad("grpc_credentials_reload_interval", "must be at least 1s");
  }
  for (auto [name, path] :
       {std::pair{"grpc_tls_cert_file", &config.grpc_tls_cert_file},
        {"grpc_tls_key_file", &config.grpc_tls_key_file},
        {"grpc_tls_client_ca_file", &config.grpc_tls_client_ca_file},
        {"grpc_token_file", &config.grpc_token_file}}) {
    SC_RETURN_IF_ERROR(CheckReadable(name, *path));
  }
  const bool protected_api =
      !config.grpc_tls_cert_file.empty() || !config.grpc_token_file.empty();
  if (!protected_api && !IsLoopbackAddress(config.grpc_listen) &&
      !config.allow_unauthenticated_grpc_beyond_loopback) {
    return Bad("grpc_listen",
               absl::StrCat("\"", config.grpc_listen,
                            "\" is reachable beyond this host but the API has "
                            "neither TLS (grpc_tls_cert_file) nor a token "
                            "(grpc_token_file); set "
                            "allow_unauthenticated_grpc_beyond_loopback to "
                            "serve it open anyway"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsLoopbackAddress(const std::string& host_port) {
  absl::string_view address = host_port;
  if (absl::StartsWith(address, "unix:")) return true;
  // "ipv4:" / "ipv6:" are gRPC's explicit scheme prefixes.
  absl::ConsumePrefix(&address, "ipv4:");
  absl::ConsumePrefix(&address, "ipv6:");
  const size_t colon = address.rfind(':');
  absl::string_view host =
      colon == absl::string_view::npos ? address : address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]")) return false;
  }
  if (host == "localhost" || host == "::1") return true;
  in_addr v4;
  const std::string host_string(host);
  return inet_pton(AF_INET, host_string.c_str(), &v4) == 1 &&
         (ntohl(v4.s_addr) >> 24) == 127;
}

absl::Status ValidateConfig(const Config& config) {
  if (config.grpc_listen.empty())
    return Bad("grpc_listen", "must not be empty");
  if (config.max_sessions == 0)
    return Bad("max_sessions", "must be at least 1");
  if (config.max_connections_per_session == 0) {
    return Bad("max_connections_per_session", "must be at least 1");
  }
  if (config.max_connections_total < config.max_connections_per_session) {
    return Bad("max_connections_total",
               "must be at least max_connections_per_session");
  }
  if (config.read_buffer_bytes < 512 || config.read_buffer_bytes > (1 << 20)) {
    return Bad("read_buffer_bytes", "must be between 512 and 1048576");
  }
  if (config.max_message_bytes < 1024) {
    return Bad("max_message_bytes", "must be at least 1024");
  }
  for (auto [name, d] :
       {std::pair{"connect_timeout", config.connect_timeout},
        {"request_timeout", config.request_timeout},
        {"read_timeout", config.read_timeout},
        {"close_timeout", config.close_timeout},
        {"idle_session_timeout", config.idle_session_timeout}}) {
    if (d <= absl::ZeroDuration()) return Bad(name, "must be positive");
  }
  for (auto [name, d] :
       {std::pair{"reconnect_base_delay", config.reconnect_base_delay},
        {"reconnect_max_delay", config.reconnect_max_delay},
        {"server_request_timeout", config.server_request_timeout}}) {
    if (d <= absl::ZeroDuration()) return Bad(name, "must be positive");
  }
  if (config.reconnect_max_delay < config.reconnect_base_delay) {
    return Bad("reconnect_max_delay", "must be at least reconnect_base_delay");
  }
  if (config.stream_stall_timeout < absl::ZeroDuration()) {
    return Bad("stream_stall_timeout", "must not be negative (0: never)");
  }
  if (!(config.reconnect_jitter >= 0 && config.reconnect_jitter <= 1)) {
    return Bad("reconnect_jitter", "must be between 0 and 1");
  }
  if (config.reconnect_max_attempts < 0 ||
      config.reconnect_max_attempts > 1000) {
    return Bad("reconnect_max_attempts", "must be between 0 and 1000");
  }
  if (config.stream_queue_bytes < 1024) {
    return Bad("stream_queue_bytes", "must be at least 1024");
  }
  if (config.subscribe_buffer_messages == 0) {
    return Bad("subscribe_buffer_messages", "must be at least 1");
  }
  if (config.io_threads < 0 || config.io_threads > 256) {
    return Bad("io_threads", "must be between 0 and 256");
  }
  SC_RETURN_IF_ERROR(ValidateTlsConfig(config));
  SC_RETURN_IF_ERROR(ValidateGrpcSecurity(config));
  return absl::OkStatus();
}

}  // namespace shadowcat
