#include "server/admin_endpoints.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "core/metrics/process_metrics.h"
#include "core/metrics/shadowcat_metrics.h"
#include "gtest/gtest.h"
#include "server/http_server.h"
#include "tests/fakes/blocking_http_client.h"
#include "tests/server/raw_client.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

constexpr absl::Duration kWait = absl::Seconds(10);

// The admin handler on an HttpServer of its own, on one I/O thread.
class AdminFixture {
 public:
  explicit AdminFixture(HttpServerOptions options = AdminHttpOptions())
      : guard_(asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {
    auto server = HttpServer::Start(
        ioc_, "127.0.0.1", 0, MakeAdminHandler(metrics_, &process_, ready_),
        options);
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
  }
  ~AdminFixture() {
    if (server_) server_->Stop();
    guard_.reset();
    thread_.join();
  }
  uint16_t port() const { return server_ ? server_->port() : 0; }
  std::atomic<bool>& ready() { return ready_; }

  TestHttpResponse Get(const std::string& path) {
    TestHttpRequest request;
    request.method = "GET";
    request.target = path;
    absl::StatusOr<TestHttpResponse> response =
        SendTestHttpRequest(port(), request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : TestHttpResponse{};
  }

 private:
  ShadowcatMetrics metrics_;
  ProcessMetrics process_;
  std::atomic<bool> ready_{true};
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::unique_ptr<HttpServer> server_;
};

double Value(const std::string& exposition, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      double value = 0;
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return -1;
}

TEST(AdminEndpointsTest, OptionsAreSmallAndBounded) {
  const HttpServerOptions options = AdminHttpOptions();
  EXPECT_EQ(options.request_timeout, absl::Seconds(10));
  EXPECT_EQ(options.idle_timeout, absl::Seconds(30));
  EXPECT_EQ(options.max_connections, 64u);
  EXPECT_LE(options.max_header_bytes, 8u << 10);
  EXPECT_LE(options.max_body_bytes, 1u << 10);
  // The shared server's defaults keep the demo upstream and the fake as they
  // were: no timeouts, no cap.
  const HttpServerOptions defaults;
  EXPECT_EQ(defaults.request_timeout, absl::InfiniteDuration());
  EXPECT_EQ(defaults.idle_timeout, absl::InfiniteDuration());
  EXPECT_EQ(defaults.max_connections, 0u);
}

TEST(AdminEndpointsTest, ReadyzFollowsTheFlag) {
  AdminFixture admin;
  EXPECT_EQ(admin.Get("/healthz").status, 200);
  EXPECT_EQ(admin.Get("/readyz").status, 200);
  admin.ready().store(false);
  EXPECT_EQ(admin.Get("/readyz").status, 503);
  EXPECT_EQ(admin.Get("/healthz").status, 200);
}

TEST(AdminEndpointsTest, MetricsCarryTheProcessMetrics) {
  AdminFixture admin;
  const TestHttpResponse response = admin.Get("/metrics");
  ASSERT_EQ(response.status, 200);
  const std::string& body = response.body;
  EXPECT_GT(Value(body, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(Value(body, "process_virtual_memory_bytes"), 1 << 20);
  EXPECT_GE(Value(body, "process_cpu_seconds_total"), 0);
  EXPECT_GE(Value(body, "process_open_fds"), 3);
  EXPECT_GT(Value(body, "process_max_fds"), Value(body, "process_open_fds"));
  const double start = Value(body, "process_start_time_seconds");
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_GT(start, now - 3600);
  EXPECT_LE(start, now + 1);
  EXPECT_NE(body.find("# TYPE process_cpu_seconds_total counter"),
            std::string::npos);
  // The product metrics are still there.
  EXPECT_GE(Value(body, "shadowcat_sessions_opened_total"), 0);
}

TEST(AdminEndpointsTest, SlowlorisIsCutAfterTheRequestTimeout) {
  HttpServerOptions options = AdminHttpOptions();
  options.request_timeout = absl::Milliseconds(500);
  AdminFixture admin(options);
  RawClient slow(admin.port());
  ASSERT_TRUE(slow.connected());
  const absl::Time start = absl::Now();
  ASSERT_TRUE(slow.Send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: "));
  ASSERT_TRUE(slow.WaitForClose(kWait)) << "the slow client was never cut";
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_TRUE(slow.data().empty()) << slow.data();
  // The server itself is fine.
  EXPECT_EQ(admin.Get("/healthz").status, 200);
}

TEST(AdminEndpointsTest, SilentNewConnectionIsCutToo) {
  HttpServerOptions options = AdminHttpOptions();
  options.request_timeout = absl::Milliseconds(300);
  AdminFixture admin(options);
  RawClient silent(admin.port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.WaitForClose(kWait));
}

TEST(AdminEndpointsTest, IdleKeepAliveIsClosedAfterTheIdleTimeout) {
  HttpServerOptions options = AdminHttpOptions();
  options.idle_timeout = absl::Milliseconds(300);
  AdminFixture admin(options);
  RawClient client(admin.port());
  ASSERT_TRUE(client.connected());
  // Two requests on one connection: keep-alive works under the timeouts.
  ASSERT_TRUE(client.Send(GetRequest("/healthz")));
  ASSERT_TRUE(client.ReadUntil("ok\n", kWait)) << client.data();
  ASSERT_TRUE(client.Send(GetRequest("/readyz")));
  ASSERT_TRUE(client.ReadUntil("ready\n", kWait)) << client.data();
  const absl::Time start = absl::Now();
  EXPECT_TRUE(client.WaitForClose(kWait));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
}

TEST(AdminEndpointsTest, CapRefusesThe65thConnection) {
  AdminFixture admin;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 64; ++i) {
    auto client = std::make_unique<RawClient>(admin.port());
    ASSERT_TRUE(client->connected()) << i;
    // A reply proves the server registered this connection.
    ASSERT_TRUE(client->Send(GetRequest("/healthz")));
    ASSERT_TRUE(client->ReadUntil("ok\n", kWait)) << i << client->data();
    clients.push_back(std::move(client));
  }
  RawClient refused(admin.port());
  ASSERT_TRUE(refused.connected());  // the kernel accepts; the server closes
  refused.Send(GetRequest("/healthz"));
  EXPECT_TRUE(refused.WaitForClose(kWait));
  EXPECT_TRUE(refused.data().empty()) << refused.data();
  // The 64 are untouched.
  ASSERT_TRUE(clients.back()->Send(GetRequest("/readyz")));
  EXPECT_TRUE(clients.back()->ReadUntil("ready\n", kWait));

  // Closing one frees a slot (the server learns of the close asynchronously,
  // so try again until a connection is served or the deadline passes).
  clients.front()->Close();
  const absl::Time deadline = absl::Now() + kWait;
  bool served = false;
  while (!served && absl::Now() < deadline) {
    RawClient next(admin.port());
    ASSERT_TRUE(next.connected());
    next.Send(GetRequest("/healthz"));
    served = next.ReadUntil("ok\n", kWait);
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace shadowcat
