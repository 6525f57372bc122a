#include "core/config/config.h"

#include "absl/strings/str_cat.h"

namespace shadowcat {
namespace {

absl::Status Bad(const char* field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("config: ", field, " ", why));
}

}  // namespace

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
  if (config.io_threads < 0 || config.io_threads > 256) {
    return Bad("io_threads", "must be between 0 and 256");
  }
  return absl::OkStatus();
}

}  // namespace shadowcat
