// The session layer's threading contracts (issue 5 item 7):
// - SessionManager::Open never runs `done` while it holds its lock: `done`
//   finishes a gRPC call, whose code may call back into the manager.
// - A Session's strand-confined methods assert that they run on its strand
//   (SC_DCHECK_ON_STRAND), so a call from another thread fails loudly in debug
//   and sanitizer builds instead of racing silently.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "core/config/config.h"
#include "core/http/http_client.h"
#include "core/http/upstream_allowlist.h"
#include "core/http/url.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/session.h"
#include "core/session/session_manager.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_mcp_server.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

// A SessionManager on its own I/O thread, allowed to reach a fake upstream.
class ManagerHarness {
 public:
  explicit ManagerHarness(Config config) : config_(std::move(config)) {
    auto upstream = FakeMcpServer::Start();
    EXPECT_TRUE(upstream.ok()) << upstream.status();
    upstream_ = *std::move(upstream);
    http_ = std::make_unique<HttpClient>(ioc_, HttpClientOptions{});
    absl::StatusOr<UpstreamAllowlist> allowlist =
        UpstreamAllowlist::Create({upstream_->url()});
    EXPECT_TRUE(allowlist.ok()) << allowlist.status();
    manager_ = std::make_unique<SessionManager>(config_, ioc_, *http_, metrics_,
                                                *std::move(allowlist));
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~ManagerHarness() {
    absl::Notification closed;
    manager_->CloseAll([&closed] { closed.Notify(); });
    closed.WaitForNotificationWithTimeout(absl::Seconds(10));
    http_->Shutdown();
    work_.reset();
    ioc_.stop();
    thread_.join();
    for (std::thread& t : probes_) t.join();
    manager_.reset();  // before the io_context its sessions' strands use
  }

  SessionManager& manager() { return *manager_; }
  std::string url() const { return upstream_->url(); }

  // Asks the manager for its size from another thread: true when that
  // returned in time, which it cannot while this thread holds the lock.
  bool ManagerIsUnlocked() {
    auto returned = std::make_shared<absl::Notification>();
    probes_.emplace_back([this, returned] {
      manager_->size();
      returned->Notify();
    });
    return returned->WaitForNotificationWithTimeout(absl::Seconds(2));
  }

  // Opens `params` and waits for `done`; whether the manager was unlocked
  // while `done` ran.
  bool OpenAndProbe(OpenParams params, absl::StatusCode* code) {
    absl::Notification finished;
    bool unlocked = false;
    manager_->Open(std::move(params), [&](absl::StatusOr<OpenResult> result) {
      unlocked = ManagerIsUnlocked();
      *code = result.status().code();
      finished.Notify();
    });
    EXPECT_TRUE(finished.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return unlocked;
  }

 private:
  const Config config_;
  ShadowcatMetrics metrics_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{
      asio::make_work_guard(ioc_)};
  std::unique_ptr<FakeMcpServer> upstream_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<SessionManager> manager_;
  std::thread thread_;
  std::vector<std::thread> probes_;
};

TEST(SessionManagerTest, OpenNeverRunsDoneUnderItsLock) {
  Config config;
  config.max_sessions = 1;
  ManagerHarness h(config);
  OpenParams params;
  params.upstream_url = h.url();
  absl::StatusCode code;
  // Opened (done runs on the session's strand, after initialize).
  EXPECT_TRUE(h.OpenAndProbe(params, &code));
  EXPECT_EQ(code, absl::StatusCode::kOk);
  // Refused at admission: the limit is checked under the lock.
  EXPECT_TRUE(h.OpenAndProbe(params, &code));
  EXPECT_EQ(code, absl::StatusCode::kResourceExhausted);
  // Refused before the lock: a bad URL.
  params.upstream_url = "not a url";
  EXPECT_TRUE(h.OpenAndProbe(params, &code));
  EXPECT_EQ(code, absl::StatusCode::kInvalidArgument);
  // Refused while draining.
  h.manager().BeginDrain();
  params.upstream_url = h.url();
  EXPECT_TRUE(h.OpenAndProbe(params, &code));
  EXPECT_EQ(code, absl::StatusCode::kUnavailable);
}

TEST(SessionStrandDeathTest, StrandConfinedMethodsAssertTheirStrand) {
#ifdef NDEBUG
  GTEST_SKIP() << "SC_DCHECK_ON_STRAND is compiled out under NDEBUG";
#endif
  // Re-executes the binary for the death test: fork() after gRPC or Asio
  // threads exist is not safe.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Config config;
  ShadowcatMetrics metrics;
  asio::io_context ioc;
  HttpClient http(ioc, HttpClientOptions{});
  SessionParams params;
  params.url = *ParseUrl("http://127.0.0.1:1/mcp");
  auto session = std::make_shared<Session>(
      "s", params,
      Session::Deps{ioc, http, metrics, std::make_shared<ConnectionBudget>(10),
                    config});
  auto stream = std::make_shared<UpstreamStream>(
      UpstreamStreamOptions{}, http, ioc.get_executor(), metrics,
      std::weak_ptr<UpstreamStreamDelegate>(),
      std::vector<ConnectionBudget::Permit>{});
  HttpResponseHead head;
  head.status = 200;
  // The upstream-stream callbacks are the session's own, strand only.
  EXPECT_DEATH(session->OnStreamHead(*stream, head), "running_in_this_thread");
  EXPECT_DEATH(session->OnStreamEnded(*stream, StreamEnd{}),
               "running_in_this_thread");
  // Posted to the strand, strand-confined code runs (Describe's snapshot
  // asserts the same way).
  bool described = false;
  session->Describe([&described](SessionSnapshot) { described = true; });
  ioc.run();
  EXPECT_TRUE(described);
}

}  // namespace
}  // namespace shadowcat
