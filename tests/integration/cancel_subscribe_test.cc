// Cancellation (CN-01, CN-02, CN-03, CN-05, CN-06) and server-initiated
// messages (Subscribe, Respond, LC-04, SS-04) through the whole sidecar against
// the fake upstream.

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

  // The upstream holds its answer to the notice, which so keeps a slot.
  ScriptedReply held;
  held.status = 202;
  held.hold = "notice";
  env.upstream->ScriptReply("notifications/cancelled", held);
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
  // The slot is free at once: with the notice in the other of the session's
  // two slots, a call still gets one.
  EXPECT_EQ(Describe(env, session).requests_in_flight(), 0u);
  v1::CallResponse a;
  status = Call(env, session, "tools/list", "", &a);
  EXPECT_TRUE(status.ok()) << status.error_message();
  env.upstream->Release("notice");
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

FakeMcpServerOptions WithGetStream() {
  FakeMcpServerOptions options;
  options.standalone_get.enabled = true;
  return options;
}

std::string Note(int i) {
  return absl::StrCat(
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":)",
      i, "}}");
}

// CN-01 and CN-05 for a backend that cancels its CallStream: the slot is free
// at once (the notifications/cancelled POST is held by the upstream, so it
// keeps a slot of its own meanwhile), and the response that comes late, on the
// GET stream, goes nowhere.
TEST(CancelTest,
     CN01_CN05_ACancelledStreamFreesItsSlotAndItsLateResponseIsDropped) {
  Config config;
  config.max_connections_per_session = 3;  // GET + notice + one call
  Env env = Start(WithGetStream(), config);
  std::string session = Open(env);
  auto subscription = Ctx();
  auto subscriber =
      env.shadowcat.stub->Subscribe(subscription.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  ScriptedReply slow;
  slow.sse = true;
  slow.hold = "slow";  // the head goes out, the response never
  env.upstream->ScriptReply("tools/call", slow);
  ScriptedReply held;
  held.status = 202;
  held.hold = "notice";
  env.upstream->ScriptReply("notifications/cancelled", held);

  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->CallStream(context.get(), EchoCall(session, "c-1"));
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  RecordedRequest call, notice;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &call));
  context->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(env.upstream->WaitForRpc("notifications/cancelled", &notice));
  EXPECT_THAT(notice.body,
              HasSubstr(absl::StrCat("\"requestId\":", UpstreamId(call))));
  // The request's stream is closed too (the upstream sees its client leave).
  EXPECT_TRUE(env.upstream->WaitForClientDisconnect());

  // GET, the held notice and this call: had the cancelled call kept its slot,
  // this would be the fourth and RESOURCE_EXHAUSTED.
  v1::CallResponse echo;
  grpc::Status status = Call(env, session, "tools/call", kEchoParams, &echo);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // CN-05: the late response is dropped; the subscriber's next message is the
  // one pushed after it.
  env.upstream->PushServerMessage(absl::StrCat(
      R"({"jsonrpc":"2.0","id":)", UpstreamId(call), R"(,"result":{}})"));
  env.upstream->PushServerMessage(Note(1));
  v1::ServerMessage message;
  ASSERT_TRUE(subscriber->Read(&message));
  EXPECT_EQ(message.message_json(), Note(1));
  EXPECT_EQ(Describe(env, session).requests_in_flight(), 0u);
  EXPECT_EQ(MetricValue(Metrics(env),
                        "shadowcat_upstream_stream_transitions_total{kind="
                        "\"post\",reason=\"cancelled\"}"),
            1);
  env.upstream->Release("notice");
  env.upstream->Release("slow");
  subscription->TryCancel();
}

// CN-02: only requests believed to be in flight are cancelled.
TEST(CancelTest, CN02_NoCancelForACompletedCall) {
  Env env = Start();
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->CallStream(context.get(), EchoCall(session, "d-1"));
  v1::CallStreamEvent event;
  bool response = false;
  while (!response && reader->Read(&event)) response = event.has_response();
  ASSERT_TRUE(response);
  // The backend gives up after the response arrived, and names it again.
  context->TryCancel();
  reader->Finish();
  v1::CancelRequest cancel;
  cancel.set_session_id(session);
  cancel.set_request_id("d-1");
  v1::CancelResponse cancelled;
  EXPECT_EQ(
      env.shadowcat.stub->Cancel(Ctx().get(), cancel, &cancelled).error_code(),
      grpc::StatusCode::NOT_FOUND);
  v1::CallResponse list;
  ASSERT_TRUE(Call(env, session, "tools/list", "", &list).ok());
  EXPECT_FALSE(env.upstream->WaitForRpc("notifications/cancelled", nullptr,
                                        absl::Milliseconds(300)));
}

// CN-03: initialize is never cancelled, neither when its own deadline passes
// nor when the backend's OpenSession gives up.
TEST(CancelTest, CN03_InitializeIsNeverCancelled) {
  Env env = Start();
  ScriptedReply slow;
  slow.delay = absl::Seconds(1);
  env.upstream->ScriptReply("initialize", slow);
  env.upstream->ScriptReply("initialize", slow);
  v1::OpenSessionRequest open;
  open.set_upstream_url(env.upstream->url());
  open.mutable_options()->set_request_timeout_ms(200);
  v1::OpenSessionResponse opened;
  EXPECT_EQ(
      env.shadowcat.stub->OpenSession(Ctx().get(), open, &opened).error_code(),
      grpc::StatusCode::DEADLINE_EXCEEDED);
  open.mutable_options()->clear_request_timeout_ms();
  EXPECT_EQ(env.shadowcat.stub
                ->OpenSession(Ctx(absl::Milliseconds(200)).get(), open, &opened)
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(env.upstream->WaitForRpc("initialize", nullptr));
  ASSERT_TRUE(env.upstream->WaitForRpc("initialize", nullptr));
  // Past both delayed answers: still no cancellation.
  EXPECT_FALSE(env.upstream->WaitForRpc("notifications/cancelled", nullptr,
                                        absl::Milliseconds(1500)));
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

// CN-06: the upstream withdraws a request of its own. The backend sees the
// notifications/cancelled, the request can no longer be answered, and no
// timeout error is sent for it later.
TEST(SubscribeTest, CN06_AServerRequestTheServerCancelsIsWithdrawn) {
  Config config;
  config.server_request_timeout = absl::Milliseconds(300);
  Env env = Start(WithGetStream(), config);
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  env.upstream->PushServerMessage(
      R"({"jsonrpc":"2.0","id":41,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}})");
  v1::ServerMessage message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.method(), "sampling/createMessage");
  EXPECT_EQ(Describe(env, session).server_requests_pending(), 1u);
  env.upstream->PushServerMessage(
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":41,"reason":"user left"}})");
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.method(), "notifications/cancelled");
  EXPECT_THAT(message.message_json(), HasSubstr("user left"));
  EXPECT_EQ(Describe(env, session).server_requests_pending(), 0u);
  v1::RespondRequest respond;
  respond.set_session_id(session);
  respond.set_request_id_json("41");
  respond.set_result_json(
      R"({"role":"assistant","content":{"type":"text","text":"x"},"model":"m"})");
  v1::RespondResponse responded;
  EXPECT_EQ(env.shadowcat.stub->Respond(Ctx().get(), respond, &responded)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(
      env.upstream->WaitForResponseTo("41", nullptr, absl::Milliseconds(600)));
  EXPECT_EQ(
      MetricValue(Metrics(env),
                  "shadowcat_server_requests_total{outcome=\"timed_out\"}"),
      0);
  context->TryCancel();
}

// A backend that re-subscribes after messages it missed were evicted from the
// bounded buffer is told so (OUT_OF_RANGE), never handed a silent gap; one
// whose gap is still buffered gets exactly what it missed.
TEST(SubscribeTest, AfterSequenceBeyondTheBufferIsOutOfRange) {
  Config config;
  config.subscribe_buffer_messages = 2;
  Env env = Start(WithGetStream(), config);
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  for (int i = 1; i <= 4; ++i) env.upstream->PushServerMessage(Note(i));
  v1::ServerMessage message;
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(reader->Read(&message));
    EXPECT_EQ(message.sequence(), static_cast<uint64_t>(i));
  }
  context->TryCancel();

  v1::SubscribeRequest late = SubscribeTo(session);
  late.set_after_sequence(1);  // 2 was evicted: only 3 and 4 are kept
  auto context2 = Ctx();
  auto reader2 = env.shadowcat.stub->Subscribe(context2.get(), late);
  EXPECT_FALSE(reader2->Read(&message));
  grpc::Status status = reader2->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(status.error_message(), HasSubstr("evicted"));

  v1::SubscribeRequest in_time = SubscribeTo(session);
  in_time.set_after_sequence(2);
  auto context3 = Ctx();
  auto reader3 = env.shadowcat.stub->Subscribe(context3.get(), in_time);
  for (int i = 3; i <= 4; ++i) {
    ASSERT_TRUE(reader3->Read(&message));
    EXPECT_EQ(message.sequence(), static_cast<uint64_t>(i));
    EXPECT_EQ(message.message_json(), Note(i));
  }
  context3->TryCancel();
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
