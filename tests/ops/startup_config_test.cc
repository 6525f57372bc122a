// Configuration that cannot surprise, through the real binary: an empty
// allowlist stops start-up unless the demo is asked for, the demo announces
// itself, unknown SHADOWCAT_* variables are named, invalid values stop
// start-up naming the flag (from the command line, the environment or a
// --flagfile), and the limit gauges alerts divide by are exported.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/http/test_certs.h"
#include "tests/integration/test_env.h"
#include "tests/ops/shadowcat_process.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kLoopbackPorts = {"--grpc_listen=127.0.0.1:0",
                                                 "--admin_listen=127.0.0.1:0"};

std::vector<std::string> Args(std::vector<std::string> extra) {
  std::vector<std::string> args = kLoopbackPorts;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Runs the binary expecting it to refuse to start; returns its stderr.
std::string Refusal(const std::vector<std::string>& args,
                    const std::vector<std::string>& env = {}) {
  auto process = ShadowcatProcess::Start(args, env);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return "";
  const int code = (*process)->Exit(/*terminate=*/false);
  EXPECT_NE(code, 0) << (*process)->log();
  EXPECT_NE(code, -1) << "did not exit by itself:\n" << (*process)->log();
  return (*process)->log();
}

TEST(StartupConfigTest, EmptyAllowlistStopsAConfiguredStart) {
  EXPECT_THAT(Refusal(Args({})), HasSubstr("--allowed_upstreams is empty"));
  // Set through the environment, the same rule holds.
  EXPECT_THAT(Refusal({}, {"SHADOWCAT_GRPC_LISTEN=127.0.0.1:0",
                           "SHADOWCAT_ADMIN_LISTEN=127.0.0.1:0"}),
              HasSubstr("--demo_upstream"));
}

TEST(StartupConfigTest, ExplicitDemoStartsAndAllowsOnlyTheDemo) {
  auto process =
      ShadowcatProcess::Start(Args({"--demo_upstream", "--demo_port=0"}));
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE(
      (*process)->child().WaitForLine("Demo upstream", absl::Seconds(30)).ok())
      << (*process)->log();
  EXPECT_NE((*process)->WaitForGrpcPort(), 0);
  // Asked for, so no "nothing was configured" alarm.
  EXPECT_THAT((*process)->log(), Not(HasSubstr("DEMO MODE")));
  EXPECT_EQ((*process)->Exit(/*terminate=*/true), 0);
}

TEST(StartupConfigTest, InvalidValuesNameTheFlagOrVariable) {
  const std::string allow = "--allowed_upstreams=http://127.0.0.1:1/mcp";
  EXPECT_THAT(Refusal(Args({allow, "--max_sessions=0"})),
              HasSubstr("max_sessions"));
  EXPECT_THAT(Refusal(Args({allow, "--max_sessions=lots"})),
              HasSubstr("max_sessions"));
  EXPECT_THAT(Refusal(Args({allow, "--log_level=loud"})),
              HasSubstr("--log_level"));
  EXPECT_THAT(Refusal(Args({allow, "--log_format=xml"})),
              HasSubstr("--log_format"));
  EXPECT_THAT(Refusal(Args({allow}), {"SHADOWCAT_IO_THREADS=many"}),
              HasSubstr("SHADOWCAT_IO_THREADS"));
  EXPECT_THAT(Refusal(Args({"--allowed_upstreams=http://127.0.0.1:/mcp"})),
              HasSubstr("127.0.0.1:"));
}

TEST(StartupConfigTest, FlagfileIsTheConfigFile) {
  const std::string bad = WriteTempFile(
      "bad.flags",
      "--allowed_upstreams=http://127.0.0.1:1/mcp\n--reconnect_jitter=2\n");
  EXPECT_THAT(Refusal(Args({"--flagfile=" + bad})),
              HasSubstr("reconnect_jitter"));

  const std::string good = WriteTempFile(
      "good.flags",
      "--allowed_upstreams=http://127.0.0.1:1/mcp\n--log_format=logfmt\n");
  auto process = ShadowcatProcess::Start(Args({"--flagfile=" + good}));
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_NE((*process)->WaitForGrpcPort(), 0) << (*process)->log();
  EXPECT_THAT((*process)->log(),
              HasSubstr("level=info msg=\"shadowcat serving"));
  EXPECT_EQ((*process)->Exit(/*terminate=*/true), 0);
}

TEST(StartupConfigTest, UnknownShadowcatVariableIsNamed) {
  auto process = ShadowcatProcess::Start(
      Args({"--allowed_upstreams=http://127.0.0.1:1/mcp"}),
      {"SHADOWCAT_MAX_SESION=5"});
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_NE((*process)->WaitForGrpcPort(), 0) << (*process)->log();
  EXPECT_THAT((*process)->log(),
              HasSubstr("environment variable SHADOWCAT_MAX_SESION matches "
                        "no flag"));
  EXPECT_EQ((*process)->Exit(/*terminate=*/true), 0);
}

TEST(StartupConfigTest, LimitGaugesAreExported) {
  Config config;
  config.max_sessions = 7;
  config.max_connections_total = 70;
  TestShadowcat shadowcat = StartShadowcat({"http://127.0.0.1:1/mcp"}, config);
  ASSERT_NE(shadowcat.server, nullptr);
  absl::StatusOr<std::string> metrics =
      HttpGet(shadowcat.server->admin_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(MetricValue(*metrics, "shadowcat_sessions_max"), 7);
  EXPECT_EQ(MetricValue(*metrics, "shadowcat_upstream_requests_max"), 70);
}

}  // namespace
}  // namespace shadowcat
