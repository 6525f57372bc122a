// Interop with the MCP project's reference "everything" server in its legacy
// HTTP+SSE mode (2024-11-05: GET /sse, POST /message), reached through
// Shadowcat's fallback (LG-02): its Streamable HTTP initialize POST to /sse
// is refused, the GET's `endpoint` event names where POSTs go, and every
// response and progress notification arrives on the one SSE stream.

#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"
#include "tests/interop/node_peer.h"
#include "tests/interop/stream_helpers.h"

namespace shadowcat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EverythingLegacyInteropTest, OpenListEchoProgressAndCloseOverHttpSse) {
  absl::StatusOr<NodePeer> peer =
      StartNodePeer("everything_server.mjs", {"--transport", "sse"},
                    {"@modelcontextprotocol/server-everything"}, "/sse");
  ASSERT_TRUE(peer.ok()) << peer.status();
  TestShadowcat shadowcat = StartShadowcat({peer->url});
  ASSERT_NE(shadowcat.server, nullptr);

  v1::OpenSessionRequest open;
  open.set_upstream_url(peer->url);
  v1::OpenSessionResponse opened;
  grpc::Status status = shadowcat.stub->OpenSession(Ctx().get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.transport(), v1::UPSTREAM_TRANSPORT_LEGACY_HTTP_SSE);
  EXPECT_THAT(opened.server_info_json(), HasSubstr("mcp-servers/everything"));
  const std::string session = opened.session_id();

  v1::CallRequest list;
  list.set_session_id(session);
  list.set_method("tools/list");
  list.set_params_json("{}");
  v1::CallResponse tools;
  status = shadowcat.stub->Call(Ctx().get(), list, &tools);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(tools.result_json(), HasSubstr("\"echo\""));

  v1::CallRequest echo =
      ToolCall(session, "echo", R"({"message":"through the fallback"})", "");
  v1::CallResponse echoed;
  status = shadowcat.stub->Call(Ctx().get(), echo, &echoed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(echoed.result_json()), "Echo: through the fallback");

  // 4 steps of 0.25 s, a progress notification after each, on the SSE stream.
  StreamOutcome outcome =
      RunCallStream(*shadowcat.stub,
                    ToolCall(session, "trigger-long-running-operation",
                             R"({"duration":1,"steps":4})", "long-1"),
                    nullptr);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_THAT(ProgressValues(outcome.Messages()), ElementsAre(1, 2, 3, 4));
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  EXPECT_THAT(FirstText(response->result_json()),
              HasSubstr("Long running operation completed"));

  v1::GetSessionRequest get;
  get.set_session_id(session);
  v1::SessionInfo info;
  ASSERT_TRUE(shadowcat.stub->GetSession(Ctx().get(), get, &info).ok());
  EXPECT_EQ(info.transport(), v1::UPSTREAM_TRANSPORT_LEGACY_HTTP_SSE);

  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(shadowcat.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_FALSE(closed.upstream_deleted());
}

// With one CallStream in flight and no subscriber, a server request on the
// legacy stream can only be for that call: it goes there and is answered.
TEST(EverythingLegacyInteropTest, SamplingReachesTheOnlyCallStream) {
  absl::StatusOr<NodePeer> peer =
      StartNodePeer("everything_server.mjs", {"--transport", "sse"},
                    {"@modelcontextprotocol/server-everything"}, "/sse");
  ASSERT_TRUE(peer.ok()) << peer.status();
  TestShadowcat shadowcat = StartShadowcat({peer->url});
  v1::OpenSessionRequest open;
  open.set_upstream_url(peer->url);
  open.set_capabilities_json(R"({"sampling":{}})");
  v1::OpenSessionResponse opened;
  grpc::Status status = shadowcat.stub->OpenSession(Ctx().get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string session = opened.session_id();
  // The server registers its sampling tool after notifications/initialized.
  bool registered = false;
  for (int i = 0; i < 100 && !registered; ++i) {
    v1::CallRequest list;
    list.set_session_id(session);
    list.set_method("tools/list");
    list.set_params_json("{}");
    v1::CallResponse tools;
    registered =
        shadowcat.stub->Call(Ctx().get(), list, &tools).ok() &&
        absl::StrContains(tools.result_json(), "\"trigger-sampling-request\"");
    if (!registered) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(registered);

  int requests = 0;
  StreamOutcome outcome = RunCallStream(
      *shadowcat.stub,
      ToolCall(session, "trigger-sampling-request",
               R"({"prompt":"say hi","maxTokens":20})", ""),
      [&](const v1::ServerMessage& message) {
        if (message.method() != "sampling/createMessage") return;
        ++requests;
        boost::json::value json = ParseJson(message.message_json());
        v1::RespondRequest respond;
        respond.set_session_id(session);
        respond.set_request_id_json(boost::json::serialize(json.at("id")));
        respond.set_result_json(
            R"({"role":"assistant","content":{"type":"text","text":"hi from the backend"},"model":"backend-model","stopReason":"endTurn"})");
        v1::RespondResponse responded;
        grpc::Status answered =
            shadowcat.stub->Respond(Ctx().get(), respond, &responded);
        EXPECT_TRUE(answered.ok()) << answered.error_message();
      });
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(requests, 1);
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  EXPECT_THAT(response->result_json(), HasSubstr("hi from the backend"));
}

// Subscribe on the legacy transport: a notification on the one SSE stream that
// no CallStream takes (here server-everything's simulated logging, started by
// a unary call) reaches the subscriber with a sequence number; closing the
// session ends the subscription cleanly.
TEST(EverythingLegacyInteropTest, SubscribeReceivesTheStreamsNotifications) {
  absl::StatusOr<NodePeer> peer =
      StartNodePeer("everything_server.mjs", {"--transport", "sse"},
                    {"@modelcontextprotocol/server-everything"}, "/sse");
  ASSERT_TRUE(peer.ok()) << peer.status();
  TestShadowcat shadowcat = StartShadowcat({peer->url});
  v1::OpenSessionRequest open;
  open.set_upstream_url(peer->url);
  v1::OpenSessionResponse opened;
  grpc::Status status = shadowcat.stub->OpenSession(Ctx().get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(opened.transport(), v1::UPSTREAM_TRANSPORT_LEGACY_HTTP_SSE);
  const std::string session = opened.session_id();

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
  v1::SubscribeRequest subscribe;
  subscribe.set_session_id(session);
  // From the first buffered message: the notification may come before the
  // subscription is in.
  subscribe.set_after_sequence(0);
  std::unique_ptr<grpc::ClientReader<v1::ServerMessage>> reader =
      shadowcat.stub->Subscribe(&context, subscribe);
  v1::CallRequest toggle;
  toggle.set_session_id(session);
  toggle.set_method("tools/call");
  toggle.set_params_json(
      R"({"name":"toggle-simulated-logging","arguments":{}})");
  v1::CallResponse toggled;
  status = shadowcat.stub->Call(Ctx().get(), toggle, &toggled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Whatever else the server announced first, in sequence.
  v1::ServerMessage message;
  uint64_t expected = 1;
  while (reader->Read(&message)) {
    EXPECT_EQ(message.sequence(), expected++);
    if (message.method() == "notifications/message") break;
  }
  EXPECT_EQ(message.method(), "notifications/message");

  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(shadowcat.stub->CloseSession(Ctx().get(), close, &closed).ok());
  while (reader->Read(&message)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

}  // namespace
}  // namespace shadowcat
