// SM-06: when the upstream forgets a session (404 to a request carrying its
// Mcp-Session-Id), Shadowcat initializes a new one under the same handle and
// sends again what the upstream refused; what may have run is not repeated
// unless it only reads or its tool is hinted idempotent (SM-08).

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Methods(Env& env) {
  std::vector<std::string> out;
  for (const RecordedRequest& r : env.upstream->requests()) {
    out.push_back(r.rpc_method.empty() ? r.http_method : r.rpc_method);
  }
  return out;
}

TEST(SessionRecoveryTest, SM06_ARefusedCallIsSentAgainInANewSession) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply gone;
  gone.status = 404;
  env.upstream->ScriptReply("tools/call", gone);

  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(response.result_json(), HasSubstr("hi there"));
  // A session-era upstream: the discovery probe (VN-11) fell back once, and
  // the recovery initializes straight away.
  EXPECT_THAT(Methods(env),
              testing::ElementsAre("server/discover", "initialize",
                                   "notifications/initialized", "tools/call",
                                   "initialize", "notifications/initialized",
                                   "tools/call"));
  // The new initialize carries nothing of the old session (VN-08).
  std::vector<RecordedRequest> requests = env.upstream->requests();
  EXPECT_EQ(requests[4].Header("Mcp-Session-Id"), "");
  EXPECT_EQ(requests[4].Header("MCP-Protocol-Version"), "");
  EXPECT_EQ(requests[6].Header("Mcp-Session-Id"), "fake-session-1");
  EXPECT_EQ(requests[6].Header("MCP-Protocol-Version"), "2025-11-25");

  v1::SessionInfo info = Describe(env, session);
  EXPECT_EQ(info.state(), v1::SESSION_STATE_OPEN);
  EXPECT_EQ(info.reinitializations(), 1u);
  EXPECT_EQ(MetricValue(Metrics(env),
                        "shadowcat_session_reinitializations_total{outcome="
                        "\"ok\"}"),
            1);
  // The handle keeps working.
  ASSERT_TRUE(Call(env, session, "tools/list", "", &response).ok());
}

TEST(SessionRecoveryTest, SM06_WhenReinitializingFailsTheSessionEnds) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply gone;
  gone.status = 404;
  env.upstream->ScriptReply("tools/call", gone);
  ScriptedReply broken;
  broken.status = 500;
  env.upstream->ScriptReply("initialize", broken);

  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("could not be re-established"));
  EXPECT_EQ(Call(env, session, "tools/list", "", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A reply whose stream drops after a first event; its resume gets 404.
ScriptedReply DropThenForget(Env& env) {
  ResumeBehavior gone;
  gone.status = 404;
  env.upstream->SetResumeBehavior(gone);
  ScriptedReply reply;
  reply.event_ids = true;
  reply.messages_before = {
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":1}})",
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":2}})"};
  reply.drop_after_events = 1;
  return reply;
}

TEST(SessionRecoveryTest, SM08_ACallThatMayHaveRunIsAbortedNotRepeated) {
  Env env = Start({}, FastReconnectConfig());
  std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", DropThenForget(env));

  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(status.error_message(), HasSubstr("may or may not"));
  int calls = 0;
  for (const std::string& m : Methods(env)) calls += m == "tools/call";
  EXPECT_EQ(calls, 1);  // never repeated
  // The session was re-established meanwhile.
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  EXPECT_EQ(Describe(env, session).reinitializations(), 1u);
}

TEST(SessionRecoveryTest, SM08_AReadOnlyRequestIsSentAgain) {
  Env env = Start({}, FastReconnectConfig());
  std::string session = Open(env);
  env.upstream->ScriptReply("tools/list", DropThenForget(env));

  v1::CallResponse response;
  grpc::Status status = Call(env, session, "tools/list", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(response.result_json(), HasSubstr("echo"));
  int lists = 0;
  for (const std::string& m : Methods(env)) lists += m == "tools/list";
  EXPECT_EQ(lists, 2);
}

// Lists `tools_json` as the upstream's tools, through the session (so it
// learns their annotations).
void ListTools(Env& env, const std::string& session,
               const std::string& tools_json) {
  ScriptedReply list;
  list.result_json = R"({"tools":)" + tools_json + "}";
  env.upstream->ScriptReply("tools/list", list);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/list", "", &response).ok());
}

// SM-08 with annotations.idempotentHint: a tools/call of a tool the upstream
// declared idempotent may be sent again like a read-only request.
TEST(SessionRecoveryTest, SM08_AToolHintedIdempotentIsSentAgain) {
  Env env = Start({}, FastReconnectConfig());
  std::string session = Open(env);
  ListTools(env, session,
            R"([{"name":"echo","inputSchema":{"type":"object"},)"
            R"("annotations":{"idempotentHint":true}}])");
  env.upstream->ScriptReply("tools/call", DropThenForget(env));

  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(response.result_json(), HasSubstr("hi there"));
  int calls = 0;
  for (const std::string& m : Methods(env)) calls += m == "tools/call";
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Describe(env, session).reinitializations(), 1u);
}

// Another tool's hint, or the hint false, does not make a call repeatable.
TEST(SessionRecoveryTest, SM08_AToolNotHintedIdempotentIsNotRepeated) {
  Env env = Start({}, FastReconnectConfig());
  std::string session = Open(env);
  ListTools(env, session,
            R"([{"name":"echo","annotations":{"idempotentHint":false,)"
            R"("readOnlyHint":false}},)"
            R"({"name":"lookup","annotations":{"idempotentHint":true}}])");
  env.upstream->ScriptReply("tools/call", DropThenForget(env));

  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  int calls = 0;
  for (const std::string& m : Methods(env)) calls += m == "tools/call";
  EXPECT_EQ(calls, 1);
  // The session is usable at once.
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
}

}  // namespace
}  // namespace shadowcat
