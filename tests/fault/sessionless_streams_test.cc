// Streams of the sessionless 2026-07-28 era (requirements section 13) against
// the fault-injecting fake: no resumption (RZ-11) and cancellation by closing
// the stream (CN-07). The fake answers server/discover by script; everything
// else is its usual behaviour.

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

// A session pinned to 2026-07-28 (no initialize, no upstream session).
std::string OpenSessionless(Env& env) {
  ScriptedReply discover;
  discover.result_json =
      R"({"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}}})";
  env.upstream->ScriptReply("server/discover", discover);
  grpc::Status status;
  std::string session = Open(env, &status, "2026-07-28");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Describe(env, session).era(), v1::PROTOCOL_ERA_SESSIONLESS);
  return session;
}

int Count(Env& env, absl::string_view method) {
  int n = 0;
  for (const RecordedRequest& r : env.upstream->requests()) {
    n += r.rpc_method == method || r.http_method == method;
  }
  return n;
}

// RZ-11: resumability is gone, so a broken response stream loses the request:
// the backend gets a clear error, never a GET + Last-Event-ID, and the call is
// not silently POSTed again (it may not be idempotent).
TEST(SessionlessStreamsTest, RZ11_ADroppedStreamIsAnErrorNotAResume) {
  Env env = Start();
  std::string session = OpenSessionless(env);
  ScriptedReply reply;
  reply.event_ids = true;  // ids that a session-era client would resume from
  reply.messages_before = {
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":1}})",
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":2}})",
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":3}})"};
  reply.drop_after_events = 2;
  env.upstream->ScriptReply("tools/call", reply);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->CallStream(context.get(), EchoCall(session));
  v1::CallStreamEvent event;
  int messages = 0;
  while (reader->Read(&event)) messages += event.has_message();
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("stream ended"));
  EXPECT_EQ(messages, 2);
  EXPECT_EQ(Count(env, "tools/call"), 1);
  EXPECT_EQ(Count(env, "GET"), 0);
}

// CN-07: on 2026-07-28 closing the request's stream is the cancellation; no
// notifications/cancelled is POSTed.
TEST(SessionlessStreamsTest, CN07_CancelClosesTheStreamWithoutAPost) {
  Env env = Start();
  std::string session = OpenSessionless(env);
  ScriptedReply slow;
  slow.sse = true;
  slow.hold = "slow";
  env.upstream->ScriptReply("tools/call", slow);
  auto context = Ctx();
  auto reader = env.shadowcat.stub->CallStream(context.get(),
                                               EchoCall(session, "v5-call"));
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", nullptr));
  v1::CancelRequest cancel;
  cancel.set_session_id(session);
  cancel.set_request_id("v5-call");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(env.shadowcat.stub->Cancel(Ctx().get(), cancel, &cancelled).ok());
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(env.upstream->WaitForClientDisconnect());
  EXPECT_FALSE(env.upstream->WaitForRpc("notifications/cancelled", nullptr,
                                        absl::Milliseconds(300)));
  env.upstream->Release("slow");
}

}  // namespace
}  // namespace shadowcat
