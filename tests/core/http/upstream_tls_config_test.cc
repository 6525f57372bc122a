// The "TLS to upstreams" block of Config: ValidateConfig's checks, which run
// before TlsContext::Create reads the files.

#include "absl/strings/match.h"
#include "core/config/config.h"
#include "gtest/gtest.h"
#include "tests/core/http/test_certs.h"

namespace shadowcat {
namespace {

TEST(UpstreamTlsConfigTest, DefaultsAreValid) {
  Config config;
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
  EXPECT_EQ(config.tls_min_version, "1.2");
  EXPECT_TRUE(config.tls_ca_file.empty());
}

TEST(UpstreamTlsConfigTest, ReadableFilesAndVersionsPass) {
  const std::string file = WriteTempFile("config-ca.pem", "x");
  Config config;
  config.tls_ca_file = file;
  config.tls_client_cert_file = file;
  config.tls_client_key_file = file;
  config.tls_min_version = "1.3";
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
}

TEST(UpstreamTlsConfigTest, BadSettingsAreNamed) {
  const std::string file = WriteTempFile("config-cert.pem", "x");
  struct Case {
    const char* name;
    Config config;
    absl::StatusCode code;
    const char* text;
  };
  Case cases[] = {
      {"version", {}, absl::StatusCode::kInvalidArgument, "tls_min_version"},
      {"cert only",
       {},
       absl::StatusCode::kInvalidArgument,
       "tls_client_cert_file and tls_client_key_file must be set together"},
      {"key only",
       {},
       absl::StatusCode::kInvalidArgument,
       "must be set together"},
      {"missing ca",
       {},
       absl::StatusCode::kFailedPrecondition,
       "config: tls_ca_file \"/nonexistent/ca.pem\" cannot be read"},
      {"missing key",
       {},
       absl::StatusCode::kFailedPrecondition,
       "config: tls_client_key_file \"/nonexistent/key.pem\" cannot be read"},
  };
  cases[0].config.tls_min_version = "1.1";
  cases[1].config.tls_client_cert_file = file;
  cases[2].config.tls_client_key_file = file;
  cases[3].config.tls_ca_file = "/nonexistent/ca.pem";
  cases[4].config.tls_client_cert_file = file;
  cases[4].config.tls_client_key_file = "/nonexistent/key.pem";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::Status status = ValidateConfig(c.config);
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), c.text)) << status;
  }
}

}  // namespace
}  // namespace shadowcat
