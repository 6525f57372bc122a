// Graceful drain (design section 7): calls in flight finish within the grace
// period, upstream sessions are DELETEd, new work is refused, and the binary
// exits 0 on SIGTERM.

#include <signal.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/child_process.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

constexpr char kEcho[] = R"({"name":"echo","arguments":{"text":"x"}})";

struct Env {
  std::unique_ptr<FakeMcpServer> upstream;
  TestShadowcat shadowcat;
  std::string session;
};

Env StartWithSession() {
  Env env;
  auto upstream = FakeMcpServer::Start();
  EXPECT_TRUE(upstream.ok());
  env.upstream = *std::move(upstream);
  env.shadowcat = StartShadowcat({env.upstream->url()});
  v1::OpenSessionRequest open;
  open.set_upstream_url(env.upstream->url());
  v1::OpenSessionResponse opened;
  EXPECT_TRUE(env.shadowcat.stub->OpenSession(Ctx().get(), open, &opened).ok());
  env.session = opened.session_id();
  return env;
}

grpc::Status CallEcho(Env& env, v1::CallResponse* response) {
  v1::CallRequest request;
  request.set_session_id(env.session);
  request.set_method("tools/call");
  request.set_params_json(kEcho);
  return env.shadowcat.stub->Call(Ctx().get(), request, response);
}

TEST(DrainTest, CallInFlightFinishesThenSessionIsDeleted) {
  Env env = StartWithSession();
  ScriptedReply slow;
  slow.delay = absl::Milliseconds(500);
  env.upstream->ScriptReply("tools/call", slow);
  grpc::Status call_status;
  v1::CallResponse response;
  std::thread caller([&] { call_status = CallEcho(env, &response); });
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", nullptr));

  env.shadowcat.server->Drain(absl::Seconds(10));
  caller.join();
  EXPECT_TRUE(call_status.ok()) << call_status.error_message();
  EXPECT_THAT(response.result_json(), ::testing::HasSubstr("\"x\""));
  ASSERT_TRUE(env.upstream->WaitForRpc("DELETE", nullptr));
  // New work is refused once drained.
  v1::CallResponse after;
  EXPECT_FALSE(CallEcho(env, &after).ok());
}

TEST(DrainTest, CallOutlastingTheGraceIsCutAndDrainIsBounded) {
  Env env = StartWithSession();
  ScriptedReply stuck;
  stuck.delay = absl::Seconds(30);
  env.upstream->ScriptReply("tools/call", stuck);
  grpc::Status call_status;
  v1::CallResponse response;
  std::thread caller([&] { call_status = CallEcho(env, &response); });
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", nullptr));

  const absl::Time started = absl::Now();
  env.shadowcat.server->Drain(absl::Milliseconds(200));
  caller.join();
  EXPECT_LT(absl::Now() - started, absl::Seconds(10));
  EXPECT_FALSE(call_status.ok());
  ASSERT_TRUE(env.upstream->WaitForRpc("DELETE", nullptr));
}

TEST(DrainTest, BinaryExitsZeroOnSigterm) {
  const char* binary = std::getenv("SHADOWCAT_BINARY");
  ASSERT_NE(binary, nullptr) << "set by the BUILD target";
  auto child = ChildProcess::Start({binary, "--grpc_listen=127.0.0.1:0",
                                    "--admin_listen=127.0.0.1:0",
                                    "--demo_upstream", "--demo_port=0"});
  ASSERT_TRUE(child.ok()) << child.status();
  // The demo banner is printed once every listener is up.
  ASSERT_TRUE((*child)->WaitForLine("Demo upstream", absl::Seconds(20)).ok());
  ASSERT_TRUE((*child)->Signal(SIGTERM).ok());
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

}  // namespace
}  // namespace shadowcat
