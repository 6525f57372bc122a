// Real-server tolerance (issue 6 item 6) against the fake upstream: 2025-03-26
// batches (BA-01/BA-04).

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

constexpr char kBatchedPing[] =
    R"({"jsonrpc":"2.0","id":"srv-ping","method":"ping"})";

// A tools/call answered with [server ping, response] as one batch, as JSON or
// as one SSE event's data.
ScriptedReply BatchReply(bool sse) {
  ScriptedReply reply;
  reply.batch = true;
  reply.sse = sse;
  reply.messages_before = {kBatchedPing};
  reply.result_json = R"({"content":[],"batched":true})";
  return reply;
}

void ExpectBatchDemultiplexed(bool sse) {
  FakeMcpServerOptions options;
  options.force_version = "2025-03-26";
  Env env = Start(options);
  const std::string session = Open(env, nullptr, "2025-03-26");
  env.upstream->ScriptReply("tools/call", BatchReply(sse));
  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The response element reached its caller by id ...
  EXPECT_EQ(response.result_json(), R"({"content":[],"batched":true})");
  // ... and the request element was handled on its own: Shadowcat answers a
  // server ping itself (PI-01).
  RecordedRequest pong;
  ASSERT_TRUE(env.upstream->WaitForResponseTo(R"("srv-ping")", &pong));
  EXPECT_THAT(pong.body, HasSubstr(R"("result":{})"));
}

TEST(RealServerToleranceTest, BA01_BatchedJsonResponseOn20250326) {
  ExpectBatchDemultiplexed(/*sse=*/false);
}

TEST(RealServerToleranceTest, BA01_BatchedSseDataOn20250326) {
  ExpectBatchDemultiplexed(/*sse=*/true);
}

// BA-04: from 2025-06-18 on, an array is a broken answer, said clearly.
TEST(RealServerToleranceTest, BA04_BatchOnLaterVersionsIsABadResponse) {
  Env env = Start();
  const std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", BatchReply(/*sse=*/false));
  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              HasSubstr("upstream sent an invalid response: a JSON-RPC batch"));
  EXPECT_THAT(status.error_message(), HasSubstr("2025-03-26"));
}

}  // namespace
}  // namespace shadowcat
