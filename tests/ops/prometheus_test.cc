// Shadowcat's /metrics against the real Prometheus tools (Debian's
// `prometheus` package, installed by scripts/bootstrap.sh): promtool's linter
// accepts the exposition, and a Prometheus server scrapes an in-process
// Shadowcat and answers a PromQL query with the value we caused.

#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "gtest/gtest.h"
#include "tests/fakes/child_process.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kPromtool[] = "/usr/bin/promtool";

bool Executable(const char* path) { return access(path, X_OK) == 0; }

std::string MissingMessage(const char* path) {
  return absl::StrCat(
      path,
      " is missing: install Debian's `prometheus` package "
      "(scripts/bootstrap.sh does: apt-get install prometheus)");
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// A port the kernel just handed out on 127.0.0.1 (released again for the child
// to bind; loopback ephemeral ports are not reused that fast).
uint16_t FreePort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(
      ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// Shadowcat with the demo upstream and one session that made one call, so
// counters, gauges and the histogram all have samples.
class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.demo_upstream = true;
    shadowcat_ = StartShadowcat({}, {}, options);
    ASSERT_NE(shadowcat_.server, nullptr);
  }

  void OpenAndCall() {
    v1::OpenSessionRequest open;
    open.set_upstream_url(shadowcat_.server->demo_upstream_url());
    v1::OpenSessionResponse session;
    grpc::Status status =
        shadowcat_.stub->OpenSession(Ctx().get(), open, &session);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::CallRequest call;
    call.set_session_id(session.session_id());
    call.set_method("tools/list");
    v1::CallResponse response;
    status = shadowcat_.stub->Call(Ctx().get(), call, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::string Exposition() {
    absl::StatusOr<std::string> reply =
        HttpGet(shadowcat_.server->admin_port(), "/metrics");
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return "";
    EXPECT_EQ(reply->substr(0, 4), "200 ");
    return reply->substr(4);
  }

  TestShadowcat shadowcat_;
};

TEST_F(PrometheusTest, PromtoolAcceptsTheExposition) {
  ASSERT_TRUE(Executable(kPromtool)) << MissingMessage(kPromtool);
  OpenAndCall();
  const std::string exposition = Exposition();
  ASSERT_NE(exposition.find("process_cpu_seconds_total"), std::string::npos);
  const std::string path = absl::StrCat(TempDir(), "/metrics.txt");
  {
    std::ofstream out(path);
    out << exposition;
  }
  // promtool reads the exposition on stdin and prints one line per problem.
  const std::string command =
      absl::StrCat(kPromtool, " check metrics < ", path, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "promtool check metrics failed:\n"
      << output;
  EXPECT_EQ(output, "") << "promtool lint:\n" << output;
}

// The query's single sample value, or "" when there is none (yet).
std::string QueryValue(uint16_t port, const std::string& query) {
  absl::StatusOr<std::string> reply =
      HttpGet(port, absl::StrCat("/api/v1/query?query=", query));
  if (!reply.ok() || reply->substr(0, 4) != "200 ") return "";
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(reply->substr(4), ec);
  if (ec || !json.is_object()) return "";
  const boost::json::value* result = json.find_pointer("/data/result", ec);
  if (result == nullptr || !result->is_array() || result->as_array().empty())
    return "";
  const boost::json::value* value =
      result->as_array()[0].find_pointer("/value/1", ec);
  if (value == nullptr || !value->is_string()) return "";
  return std::string(value->as_string());
}

TEST_F(PrometheusTest, RealPrometheusScrapesShadowcat) {
  ASSERT_TRUE(Executable(kPrometheus)) << MissingMessage(kPrometheus);
  const std::string dir = absl::StrCat(TempDir(), "/prometheus");
  mkdir(dir.c_str(), 0700);
  const std::string config = absl::StrCat(dir, "/prometheus.yml");
  {
    std::ofstream out(config);
    out << "global:\n"
           "  scrape_interval: 1s\n"
           "  scrape_timeout: 1s\n"
           "scrape_configs:\n"
           "  - job_name: shadowcat\n"
           "    static_configs:\n"
           "      - targets: ['127.0.0.1:"
        << shadowcat_.server->admin_port() << "']\n";
  }
  OpenAndCall();
  OpenAndCall();

  const uint16_t port = FreePort();
  ChildProcessOptions options;
  options.log_prefix = "[prometheus] ";
  options.term_grace = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<ChildProcess>> prometheus =
      ChildProcess::Start(
          {kPrometheus, absl::StrCat("--config.file=", config),
           absl::StrCat("--storage.tsdb.path=", dir, "/data"),
           absl::StrCat("--web.listen-address=127.0.0.1:", port),
           "--log.level=warn"},
          options);
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();

  // Nothing in Prometheus can notify us of a scrape, so poll its API (bounded;
  // a scrape happens every second).
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  std::string opened;
  while (opened.empty() && absl::Now() < deadline) {
    opened = QueryValue(port, "shadowcat_sessions_opened_total");
    if (opened.empty()) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(opened, "2") << "no scrape of shadowcat_sessions_opened_total "
                            "within 15 s";
  EXPECT_EQ(QueryValue(port, "up{job=\"shadowcat\"}"), "1");
  EXPECT_EQ(QueryValue(port, "shadowcat_sessions_active"), "2");
  EXPECT_NE(QueryValue(port, "process_resident_memory_bytes"), "");
}

}  // namespace
}  // namespace shadowcat
