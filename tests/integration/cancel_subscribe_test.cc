// Cancellation (CN-01, CN-02, CN-05) and server-initiated messages (Subscribe,
// Respond, LC-04, SS-04) through the whole sidecar against the fake upstream.

#include <functional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

// The upstream JSON-RPC id of a recorded request body: `"id":N`.
std::string UpstreamId(const RecordedRequest& request) {
  const size_t at = request.body.find("\"id\":");
  if (at == std::string::npos) return "";
  const size_t begin = at + 5;
  return request.body.substr(begin,
                             request.body.find_first_of(",}", begin) - begin);
}

// The next POST of a JSON-RPC response (the fake records responses, and GETs,
// with no JSON-RPC method).
testing::AssertionResult WaitForResponsePost(Env& env, RecordedRequest* out) {
  while (true) {
    testing::AssertionResult got = env.upstream->WaitForRpc("", out);
    if (!got || out->http_method == "POST") return got;
  }
}

// A tools/call the fake holds for a long time, so it is in flight.
void ScriptSlowCall(Env& env) {
  ScriptedReply reply;
  reply.sse = true;
  reply.delay = absl::Seconds(30);
  env.upstream->ScriptReply("tools/call", reply);
}

TEST(CancelTest, CN01_CancelByHandleSendsCancelledAndFreesTheSlot) {
  Config config;
  config.max_connections_per_session = 2;
  Env env = Start({}, config);
  std::string session = Open(env);
  ScriptSlowCall(env);
  v1::CallRequest request = EchoCall(session, "slow-1");
  auto context = Ctx();
  auto reader = env.shadowcat.stub->CallStream(context.get(), request);
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.started().request_id(), "slow-1");
  RecordedRequest call;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &call));

  // While it runs, GetSession shows its stream under the handle.
  v1::SessionInfo info = Describe(env, session);
  ASSERT_EQ(info.streams_size(), 1);
  EXPECT_EQ(info.streams(0).kind(), v1::STREAM_KIND_POST);
  EXPECT_EQ(info.streams(0).request_id(), "slow-1");
  EXPECT_EQ(info.requests_in_flight(), 1u);

  v1::CancelRequest cancel;
  cancel.set_session_id(session);
  cancel.set_request_id("slow-1");
  cancel.set_reason("the user gave up");
  v1::CancelResponse cancelled;
  grpc::Status status =
      env.shadowcat.stub->Cancel(Ctx().get(), cancel, &cancelled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  RecordedRequest notice;
  ASSERT_TRUE(env.upstream->WaitForRpc("notifications/cancelled", &notice));
  EXPECT_THAT(notice.body,
              HasSubstr(absl::StrCat("\"requestId\":", UpstreamId(call))));
  EXPECT_THAT(notice.body, HasSubstr("the user gave up"));
  // The slot is free at once: both of the session's two slots serve calls.
  EXPECT_EQ(Describe(env, session).requests_in_flight(), 0u);
  v1::CallResponse a, b;
  EXPECT_TRUE(Call(env, session, "tools/list", "", &a).ok());
  EXPECT_TRUE(Call(env, session, "tools/list", "", &b).ok());
  // CN-02: nothing to cancel any more.
  EXPECT_EQ(
      env.shadowcat.stub->Cancel(Ctx().get(), cancel, &cancelled).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST(CancelTest, CN01_ClientCancellingACallStreamCancelsUpstream) {
  Env env = Start();
  std::string session = Open(env);
  ScriptSlowCall(env);
  v1::CallRequest request = EchoCall(session);
  auto context = Ctx();
  auto reader = env.shadowcat.stub->CallStream(context.get(), request);
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_TRUE(absl::StartsWith(event.started().request_id(), "sc-"));
  RecordedRequest call, notice;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &call));
  context->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(env.upstream->WaitForRpc("notifications/cancelled", &notice));
  EXPECT_THAT(notice.body,
              HasSubstr(absl::StrCat("\"requestId\":", UpstreamId(call))));
  EXPECT_TRUE(Eventually(
      [&] { return Describe(env, session).requests_in_flight() == 0; }));
}

TEST(CancelTest, CN01_ClientCancellingAUnaryCallCancelsUpstream) {
  Env env = Start();
  std::string session = Open(env);
  ScriptSlowCall(env);
  v1::CallRequest request = EchoCall(session);
  auto context = Ctx();
  std::thread canceller([&] {
    // Cancels once the request reached the upstream.
    if (env.upstream->WaitForRpc("tools/call", nullptr)) context->TryCancel();
  });
  v1::CallResponse response;
  grpc::Status status =
      env.shadowcat.stub->Call(context.get(), request, &response);
  canceller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  RecordedRequest notice;
  ASSERT_TRUE(env.upstream->WaitForRpc("notifications/cancelled", &notice));
  EXPECT_THAT(notice.body, HasSubstr("\"requestId\":"));
}

TEST(CancelTest, CloseSessionCancelsCallsInFlightBeforeItsDelete) {
  Env env = Start();
  std::string session = Open(env);
  ScriptSlowCall(env);
  v1::CallRequest request = EchoCall(session);
  auto context = Ctx();
  auto reader = env.shadowcat.stub->CallStream(context.get(), request);
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", nullptr));
  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(
      env.shadowcat.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_TRUE(closed.upstream_deleted());
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_THAT(status.error_message(), HasSubstr("session was closed"));
  EXPECT_TRUE(env.upstream->WaitForRpc("notifications/cancelled", nullptr));
  EXPECT_TRUE(env.upstream->WaitForRpc("DELETE", nullptr));
}

TEST(CancelTest, AHandleInFlightCannotBeReused) {
  Env env = Start();
  std::string session = Open(env);
  ScriptSlowCall(env);
  v1::CallRequest request = EchoCall(session, "dup");
  auto context = Ctx();
  auto reader = env.shadowcat.stub->CallStream(context.get(), request);
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  v1::CallResponse response;
  EXPECT_EQ(
      env.shadowcat.stub->Call(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  request.set_request_id("sc-7");  // Shadowcat's own namespace
  EXPECT_EQ(
      env.shadowcat.stub->Call(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  request.set_request_id("");
  request.set_method("initialize");  // OpenSession's job
  EXPECT_EQ(
      env.shadowcat.stub->Call(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  context->TryCancel();
}

v1::SubscribeRequest SubscribeTo(const std::string& session) {
  v1::SubscribeRequest request;
  request.set_session_id(session);
  return request;
}

TEST(SubscribeTest, SS04_GetAnswered405MeansNoServerStreamAndNoRetry) {
  Env env = Start();  // the fake answers GET with 405
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  ASSERT_TRUE(Eventually([&] {
    return Describe(env, session).server_stream() ==
           v1::SERVER_STREAM_STATUS_UNSUPPORTED;
  }));
  RecordedRequest get;
  ASSERT_TRUE(env.upstream->WaitForRpc("GET", &get));
  // SS-03, SM-03, VN-04 on the GET.
  EXPECT_THAT(get.Header("Accept"), HasSubstr("text/event-stream"));
  EXPECT_EQ(get.Header("Mcp-Session-Id"), "fake-session-1");
  EXPECT_EQ(get.Header("MCP-Protocol-Version"), "2025-11-25");
  // A second subscriber does not ask again, and calls still work.
  auto context2 = Ctx();
  auto reader2 =
      env.shadowcat.stub->Subscribe(context2.get(), SubscribeTo(session));
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/list", "", &response).ok());
  EXPECT_FALSE(
      env.upstream->WaitForRpc("GET", nullptr, absl::Milliseconds(200)));
  context->TryCancel();
  context2->TryCancel();
}

TEST(SubscribeTest, AServerRequestOnAUnaryCallReachesSubscribersAndIsAnswered) {
  Env env = Start();
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  // The subscriber is in once its GET went out (the fake answers 405).
  ASSERT_TRUE(env.upstream->WaitForRpc("GET", nullptr));
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {
      R"({"jsonrpc":"2.0","id":"srv-9","method":"elicitation/create","params":{"message":"name?","requestedSchema":{"type":"object","properties":{}}}})",
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello"}})"};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());

  v1::ServerMessage message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.method(), "elicitation/create");
  EXPECT_EQ(message.sequence(), 1u);
  EXPECT_THAT(message.message_json(), HasSubstr("\"srv-9\""));
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.method(), "notifications/message");
  EXPECT_EQ(message.sequence(), 2u);
  EXPECT_EQ(Describe(env, session).server_requests_pending(), 1u);

  v1::RespondRequest respond;
  respond.set_session_id(session);
  respond.set_request_id_json("\"srv-9\"");
  respond.set_result_json(R"({"action":"decline"})");
  v1::RespondResponse responded;
  ASSERT_TRUE(
      env.shadowcat.stub->Respond(Ctx().get(), respond, &responded).ok());
  RecordedRequest answer;
  ASSERT_TRUE(WaitForResponsePost(env, &answer));
  EXPECT_EQ(answer.body,
            R"({"jsonrpc":"2.0","id":"srv-9","result":{"action":"decline"}})");
  EXPECT_EQ(Describe(env, session).server_requests_pending(), 0u);

  // A backend that lost its stream gets what it missed after its sequence.
  context->TryCancel();
  v1::SubscribeRequest again = SubscribeTo(session);
  again.set_after_sequence(1);
  auto context2 = Ctx();
  auto reader2 = env.shadowcat.stub->Subscribe(context2.get(), again);
  ASSERT_TRUE(reader2->Read(&message));
  EXPECT_EQ(message.sequence(), 2u);
  EXPECT_EQ(message.method(), "notifications/message");
  context2->TryCancel();
}

TEST(SubscribeTest, LC04_AServerRequestNobodyAnswersGetsAnErrorReply) {
  Config config;
  config.server_request_timeout = absl::Milliseconds(200);
  Env env = Start({}, config);
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {
      R"({"jsonrpc":"2.0","id":"srv-3","method":"roots/list","params":{}})"};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  RecordedRequest answer;
  ASSERT_TRUE(WaitForResponsePost(env, &answer));
  EXPECT_THAT(answer.body, HasSubstr(R"("id":"srv-3","error":{"code":-32603)"));
  EXPECT_THAT(answer.body, HasSubstr("server_request_timeout"));
  // Too late to answer now.
  v1::RespondRequest respond;
  respond.set_session_id(session);
  respond.set_request_id_json("\"srv-3\"");
  respond.set_result_json(R"({"roots":[]})");
  v1::RespondResponse responded;
  EXPECT_EQ(env.shadowcat.stub->Respond(Ctx().get(), respond, &responded)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(
      Metrics(env),
      HasSubstr("shadowcat_server_requests_total{outcome=\"timed_out\"} 1"));
}

TEST(SubscribeTest, SubscribersEndWhenTheSessionCloses) {
  Env env = Start();
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForRpc("GET", nullptr));
  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(
      env.shadowcat.stub->CloseSession(Ctx().get(), close, &closed).ok());
  v1::ServerMessage message;
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_TRUE(reader->Finish().ok());
}

}  // namespace
}  // namespace shadowcat
