#include "core/config/config.h"

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(ConfigTest, DefaultsAreValidAndMatchTheDesign) {
  Config config;
  EXPECT_TRUE(ValidateConfig(config).ok());
  EXPECT_EQ(config.max_connections_per_session, 10u);
  EXPECT_EQ(config.read_buffer_bytes, 8192u);
  EXPECT_EQ(config.max_message_bytes, 4u << 20);
  EXPECT_EQ(config.grpc_listen.rfind("127.0.0.1:", 0),
            0u);  // loopback by default
}

TEST(ConfigTest, BadFieldIsNamed) {
  Config config;
  config.max_connections_per_session = 0;
  absl::Status status = ValidateConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("max_connections_per_session"),
            absl::string_view::npos);

  config = Config();
  config.request_timeout = absl::ZeroDuration();
  EXPECT_NE(ValidateConfig(config).message().find("request_timeout"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace shadowcat
