// Interop with the official TypeScript SDK v2 server
// (@modelcontextprotocol/server 2.4.0, started by sdk_v2_server.mjs) in the
// sessionless 2026-07-28 era (requirements section 13): discovery, calls,
// multi-round-trip input, progress on a CallStream, cancellation by closing
// the stream, subscriptions/listen behind Subscribe; and, from the same
// dual-era server, the era chosen without a pin (VN-11) and the 2025 session
// era when the probe is turned off.

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"
#include "tests/interop/node_peer.h"
#include "tests/interop/stream_helpers.h"

namespace shadowcat {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SdkV2InteropTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args, Config config = {}) {
    args.push_back("--log-requests");
    absl::StatusOr<NodePeer> peer = StartNodePeer(
        "sdk_v2_server.mjs", args,
        {"@modelcontextprotocol/server", "@modelcontextprotocol/node"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_ = *std::move(peer);
    shadowcat_ = StartShadowcat({peer_.url}, config);
    ASSERT_NE(shadowcat_.server, nullptr);
  }

  // A session pinned to 2026-07-28.
  std::string OpenModern() {
    v1::OpenSessionResponse opened;
    grpc::Status status = Open("2026-07-28", &opened);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(opened.era(), v1::PROTOCOL_ERA_SESSIONLESS);
    return opened.session_id();
  }

  v1::SessionInfo Describe(const std::string& session) {
    v1::GetSessionRequest get;
    get.set_session_id(session);
    v1::SessionInfo info;
    grpc::Status status = shadowcat_.stub->GetSession(Ctx().get(), get, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }

  // Whether the peer logged a line starting with `prefix` (--log-requests),
  // waiting up to `timeout`.
  bool PeerLogged(const std::string& prefix,
                  absl::Duration timeout = absl::Seconds(5)) {
    return peer_.process->WaitForLine(prefix, timeout).ok();
  }

  grpc::Status Open(const std::string& version,
                    v1::OpenSessionResponse* opened) {
    v1::OpenSessionRequest open;
    open.set_upstream_url(peer_.url);
    open.set_protocol_version(version);
    open.set_capabilities_json(R"({"elicitation":{}})");
    return shadowcat_.stub->OpenSession(Ctx().get(), open, opened);
  }

  grpc::Status Call(const std::string& session, const std::string& method,
                    const std::string& params, v1::CallResponse* response) {
    v1::CallRequest request;
    request.set_session_id(session);
    request.set_method(method);
    request.set_params_json(params);
    return shadowcat_.stub->Call(Ctx().get(), request, response);
  }

  NodePeer peer_;
  TestShadowcat shadowcat_;
};

// A backend that pins 2026-07-28: discovery, tools, and a multi-round-trip tool
// whose input request the backend answers by calling again with inputResponses
// and requestState.
TEST_F(SdkV2InteropTest, PinnedModernEraCallsAndAMultiRoundTripTool) {
  Start({});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open("2026-07-28", &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.era(), v1::PROTOCOL_ERA_SESSIONLESS);
  EXPECT_EQ(opened.protocol_version(), "2026-07-28");
  EXPECT_THAT(opened.server_info_json(), HasSubstr("shadowcat-v2-peer"));
  EXPECT_THAT(opened.server_capabilities_json(), HasSubstr("tools"));
  const std::string session = opened.session_id();

  v1::CallResponse tools;
  status = Call(session, "tools/list", "{}", &tools);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(tools.result_json(), HasSubstr("\"deploy\""));

  v1::CallResponse echo;
  status = Call(session, "tools/call",
                R"({"name":"echo","arguments":{"text":"modern"}})", &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(echo.result_json()), "modern");
  EXPECT_THAT(echo.result_json(), HasSubstr(R"("resultType":"complete")"));

  // Round 1: the server needs input; the result reaches the backend verbatim.
  v1::CallResponse first;
  status = Call(session, "tools/call",
                R"({"name":"deploy","arguments":{"env":"prod"}})", &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(first.result_json(),
              AllOf(HasSubstr(R"("resultType":"input_required")"),
                    HasSubstr("elicitation/create"),
                    HasSubstr(R"("requestState":"deploy:prod")")));
  // Round 2: the backend answers through a second Call.
  v1::CallResponse second;
  status = Call(
      session, "tools/call",
      R"({"name":"deploy","arguments":{"env":"prod"},"inputResponses":{"confirm":{"action":"accept","content":{"confirm":true}}},"requestState":"deploy:prod"})",
      &second);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(second.result_json()), "deployed to prod");

  v1::SessionInfo info = Describe(session);
  EXPECT_EQ(info.era(), v1::PROTOCOL_ERA_SESSIONLESS);
  EXPECT_FALSE(info.has_upstream_session());
  // No GET in this era; subscriptions/listen waits for a Subscribe.
  EXPECT_EQ(info.server_stream(), v1::SERVER_STREAM_STATUS_NOT_OPENED);

  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(shadowcat_.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_FALSE(closed.upstream_deleted());  // nothing to DELETE

  // Every request carried the era's headers; nothing was initialize, GET or
  // DELETE.
  ChildProcess& peer = *peer_.process;
  EXPECT_TRUE(peer.WaitForLine("HTTP POST mcp-method=server/discover "
                               "mcp-name=- version=2026-07-28")
                  .ok());
  EXPECT_TRUE(peer.WaitForLine("HTTP POST mcp-method=tools/call "
                               "mcp-name=deploy version=2026-07-28")
                  .ok());
  for (const char* absent :
       {"HTTP POST mcp-method=-", "HTTP GET", "HTTP DELETE"}) {
    EXPECT_FALSE(peer.WaitForLine(absent, absl::Milliseconds(200)).ok())
        << absent;
  }
}

// A server that speaks only 2026-07-28 refuses initialize with -32022 naming
// it; Shadowcat goes on with discovery without the backend asking.
TEST_F(SdkV2InteropTest, VN10_AModernOnlyServerIsReachedWithoutAPin) {
  Start({"--modern-only"});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open("", &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.era(), v1::PROTOCOL_ERA_SESSIONLESS);
  v1::CallResponse echo;
  status = Call(opened.session_id(), "tools/call",
                R"({"name":"echo","arguments":{"text":"found"}})", &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(echo.result_json()), "found");
}

// VN-11: a dual-era server opened without a pin gets the newest era both
// speak: server/discover answers the modern way, so no initialize follows.
TEST_F(SdkV2InteropTest, VN11_ADualEraServerGetsTheModernEraWithoutAPin) {
  Start({});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open("", &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.era(), v1::PROTOCOL_ERA_SESSIONLESS);
  EXPECT_EQ(opened.protocol_version(), "2026-07-28");
  v1::CallResponse echo;
  status = Call(opened.session_id(), "tools/call",
                R"({"name":"echo","arguments":{"text":"newest"}})", &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(echo.result_json()), "newest");
  EXPECT_TRUE(PeerLogged("HTTP POST mcp-method=server/discover"));
  // initialize (a session-era POST) carries no Mcp-Method.
  EXPECT_FALSE(PeerLogged("HTTP POST mcp-method=-", absl::Milliseconds(200)));
}

// The same dual-era server with --prefer_modern_era=false serves the 2025
// session era through initialize.
TEST_F(SdkV2InteropTest, TheDualEraServerAlsoServesTheSessionEra) {
  Config config;
  config.prefer_modern_era = false;
  Start({}, config);
  v1::OpenSessionResponse opened;
  grpc::Status status = Open("", &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.era(), v1::PROTOCOL_ERA_SESSION);
  EXPECT_EQ(opened.protocol_version(), "2025-11-25");
  v1::CallResponse echo;
  status = Call(opened.session_id(), "tools/call",
                R"({"name":"echo","arguments":{"text":"old"}})", &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(echo.result_json()), "old");
  EXPECT_FALSE(PeerLogged("HTTP POST mcp-method=server/discover",
                          absl::Milliseconds(200)));
}

// Progress on a modern CallStream comes on the request's own response stream;
// two calls with the same caller token each get only their own (PX-02), then
// their result.
TEST_F(SdkV2InteropTest, PX02_ModernProgressReachesEachCallStreamThenResult) {
  Start({});
  const std::string session = OpenModern();
  StreamOutcome three;
  std::thread other([&] {
    three = RunCallStream(
        *shadowcat_.stub,
        ToolCall(session, "slow", R"({"steps":3,"delayMs":30})", "same"),
        nullptr);
  });
  StreamOutcome four = RunCallStream(
      *shadowcat_.stub,
      ToolCall(session, "slow", R"({"steps":4,"delayMs":30})", "same"),
      nullptr);
  other.join();
  for (const StreamOutcome* outcome : {&three, &four}) {
    ASSERT_TRUE(outcome->status.ok()) << outcome->status.error_message();
    for (const v1::ServerMessage& message : outcome->Messages()) {
      EXPECT_THAT(message.message_json(),
                  HasSubstr(R"("progressToken":"same")"));
    }
  }
  EXPECT_THAT(ProgressValues(three.Messages()), ElementsAre(1, 2, 3));
  EXPECT_THAT(ProgressValues(four.Messages()), ElementsAre(1, 2, 3, 4));
  ASSERT_TRUE(three.Response().has_value());
  EXPECT_EQ(FirstText(three.Response()->result_json()), "done after 3 steps");
  ASSERT_TRUE(four.Response().has_value());
  EXPECT_EQ(FirstText(four.Response()->result_json()), "done after 4 steps");
  // The response is the last event.
  EXPECT_TRUE(four.events.back().has_response());
}

// CN-07: a modern call is cancelled by closing its response stream. The peer
// sees its request aborted, and no notifications/cancelled is POSTed, whether
// the backend cancels the gRPC call or uses the Cancel RPC.
class SdkV2CancelTest : public SdkV2InteropTest,
                        public ::testing::WithParamInterface<bool> {};

TEST_P(SdkV2CancelTest, CN07_CancellingClosesTheStreamWithoutANotification) {
  const bool use_cancel_rpc = GetParam();
  Start({});
  const std::string session = OpenModern();
  v1::CallRequest request =
      ToolCall(session, "slow", R"({"steps":100,"delayMs":100})", "p");
  request.set_request_id("slow-1");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
  std::unique_ptr<grpc::ClientReader<v1::CallStreamEvent>> reader =
      shadowcat_.stub->CallStream(&context, request);
  v1::CallStreamEvent event;
  bool progressed = false;
  while (!progressed && reader->Read(&event)) progressed = event.has_message();
  ASSERT_TRUE(progressed) << "no progress before the cancel";
  if (use_cancel_rpc) {
    v1::CancelRequest cancel;
    cancel.set_session_id(session);
    cancel.set_request_id("slow-1");
    v1::CancelResponse cancelled;
    grpc::Status status =
        shadowcat_.stub->Cancel(Ctx().get(), cancel, &cancelled);
    ASSERT_TRUE(status.ok()) << status.error_message();
  } else {
    context.TryCancel();
  }
  while (reader->Read(&event)) {
    EXPECT_FALSE(event.has_response()) << "the call was not cancelled";
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(PeerLogged("ABORTED slow"));
  EXPECT_EQ(Describe(session).requests_in_flight(), 0u);
  // Nothing but the call went upstream: no notifications/cancelled (with or
  // without its Mcp-Method header).
  EXPECT_FALSE(PeerLogged("HTTP POST mcp-method=notifications/",
                          absl::Milliseconds(300)));
  EXPECT_FALSE(PeerLogged("HTTP POST mcp-method=-", absl::Milliseconds(10)));
}

INSTANTIATE_TEST_SUITE_P(GrpcCancelOrCancelRpc, SdkV2CancelTest,
                         ::testing::Bool(), [](const auto& info) {
                           return info.param ? "CancelRpc" : "GrpcCancel";
                         });

// Section 13 item 2: Subscribe on a modern session opens subscriptions/listen
// for the list changes the server advertises; what it carries reaches the
// subscriber with sequence numbers, the acknowledgement first. The stream
// ends when the last subscriber leaves.
TEST_F(SdkV2InteropTest, SubscribeListensForListChanges) {
  Start({});
  const std::string session = OpenModern();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
  v1::SubscribeRequest subscribe;
  subscribe.set_session_id(session);
  std::unique_ptr<grpc::ClientReader<v1::ServerMessage>> reader =
      shadowcat_.stub->Subscribe(&context, subscribe);

  v1::ServerMessage ack;
  ASSERT_TRUE(reader->Read(&ack));
  EXPECT_EQ(ack.method(), "notifications/subscriptions/acknowledged");
  EXPECT_EQ(ack.sequence(), 1u);
  EXPECT_THAT(ack.message_json(), HasSubstr(R"("toolsListChanged":true)"));
  EXPECT_TRUE(PeerLogged("HTTP POST mcp-method=subscriptions/listen"));
  EXPECT_EQ(Describe(session).server_stream(), v1::SERVER_STREAM_STATUS_OPEN);

  v1::CallResponse touched;
  grpc::Status status =
      Call(session, "tools/call", R"({"name":"touch_tools","arguments":{}})",
           &touched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::ServerMessage changed;
  ASSERT_TRUE(reader->Read(&changed));
  EXPECT_EQ(changed.method(), "notifications/tools/list_changed");
  EXPECT_EQ(changed.sequence(), 2u);
  EXPECT_THAT(changed.message_json(),
              HasSubstr("io.modelcontextprotocol/subscriptionId"));

  context.TryCancel();
  reader->Finish();
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (Describe(session).server_stream() == v1::SERVER_STREAM_STATUS_OPEN &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(Describe(session).server_stream(),
            v1::SERVER_STREAM_STATUS_NOT_OPENED);
  // One listen request in all, and no GET.
  EXPECT_FALSE(PeerLogged("HTTP POST mcp-method=subscriptions/listen",
                          absl::Milliseconds(200)));
  EXPECT_FALSE(PeerLogged("HTTP GET", absl::Milliseconds(10)));
}

}  // namespace
}  // namespace shadowcat
