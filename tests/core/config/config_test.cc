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

TEST(ConfigTest, LoopbackAddresses) {
  for (const char* address :
       {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "[::1]:50051",
        "ipv4:127.0.0.1:1", "unix:/run/shadowcat.sock"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address : {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:50051",
                              "pod.example:50051", "128.0.0.1:1", ":50051"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(ConfigTest, OpenApiBeyondLoopbackIsRefusedUnlessAcknowledged) {
  Config config;
  config.grpc_listen = "0.0.0.0:50051";
  absl::Status status = ValidateConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("allow_unauthenticated_grpc_beyond_loopback"),
            absl::string_view::npos)
      << status;

  config.allow_unauthenticated_grpc_beyond_loopback = true;
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ConfigTest, GrpcTlsFilesComeInPairsAndMustBeReadable) {
  Config config;
  config.grpc_tls_cert_file = "/etc/hostname";
  EXPECT_NE(ValidateConfig(config).message().find("grpc_tls_key_file"),
            absl::string_view::npos);

  config = Config();
  config.grpc_tls_client_ca_file = "/etc/hostname";
  EXPECT_NE(ValidateConfig(config).message().find("grpc_tls_client_ca_file"),
            absl::string_view::npos);

  config = Config();
  config.grpc_token_file = "/nonexistent/token";
  absl::Status status = ValidateConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("grpc_token_file"), absl::string_view::npos);
}

}  // namespace
}  // namespace shadowcat
