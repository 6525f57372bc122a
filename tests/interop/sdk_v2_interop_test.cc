// Interop with the official TypeScript SDK v2 server
// (@modelcontextprotocol/server 2.4.0, started by sdk_v2_server.mjs) in the
// sessionless 2026-07-28 era (requirements section 13), and, from the same
// dual-era server, in the 2025 session era.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"
#include "tests/interop/node_peer.h"
#include "tests/interop/stream_helpers.h"

namespace shadowcat {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class SdkV2InteropTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args) {
    args.push_back("--log-requests");
    absl::StatusOr<NodePeer> peer = StartNodePeer(
        "sdk_v2_server.mjs", args,
        {"@modelcontextprotocol/server", "@modelcontextprotocol/node"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_ = *std::move(peer);
    shadowcat_ = StartShadowcat({peer_.url});
    ASSERT_NE(shadowcat_.server, nullptr);
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

  v1::GetSessionRequest get;
  get.set_session_id(session);
  v1::SessionInfo info;
  ASSERT_TRUE(shadowcat_.stub->GetSession(Ctx().get(), get, &info).ok());
  EXPECT_EQ(info.era(), v1::PROTOCOL_ERA_SESSIONLESS);
  EXPECT_FALSE(info.has_upstream_session());
  EXPECT_EQ(info.server_stream(), v1::SERVER_STREAM_STATUS_UNSUPPORTED);

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

// The same dual-era server, opened without a pin, serves the 2025 session era.
TEST_F(SdkV2InteropTest, TheDualEraServerAlsoServesTheSessionEra) {
  Start({});
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
}

}  // namespace
}  // namespace shadowcat
