// Interop with the MCP project's reference "everything" server (npm
// @modelcontextprotocol/server-everything, started by everything_server.mjs) over Streamable
// HTTP: it always runs with an event store (priming events, UUID event ids), announces
// conditional tools with list_changed, and reports long-running progress.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"
#include "tests/interop/node_peer.h"
#include "tests/interop/stream_helpers.h"

namespace shadowcat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EverythingInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<NodePeer> peer = StartNodePeer(
        "everything_server.mjs", {}, {"@modelcontextprotocol/server-everything"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_ = *std::move(peer);
    shadowcat_ = StartShadowcat({peer_.url});
    ASSERT_NE(shadowcat_.server, nullptr);
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

TEST_F(EverythingInteropTest, OpenListEchoAndLongRunningProgress) {
  v1::OpenSessionRequest open;
  open.set_upstream_url(peer_.url);
  open.mutable_client_info()->set_name("shadowcat-interop");
  v1::OpenSessionResponse opened;
  grpc::Status status = shadowcat_.stub->OpenSession(Ctx().get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.protocol_version(), "2025-11-25");
  EXPECT_THAT(opened.server_info_json(), HasSubstr("mcp-servers/everything"));
  EXPECT_FALSE(opened.instructions().empty());
  const std::string session = opened.session_id();

  v1::CallResponse tools;
  status = Call(session, "tools/list", "{}", &tools);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(tools.result_json(), HasSubstr("\"echo\""));
  EXPECT_THAT(tools.result_json(), HasSubstr("\"trigger-long-running-operation\""));

  v1::CallResponse echo;
  status = Call(session, "tools/call",
                R"({"name":"echo","arguments":{"message":"through the sidecar"}})", &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(echo.result_json()), "Echo: through the sidecar")
      << echo.ShortDebugString();

  // 4 steps of 0.25 s, a progress notification after each.
  StreamOutcome outcome = RunCallStream(
      *shadowcat_.stub,
      ToolCall(session, "trigger-long-running-operation", R"({"duration":1,"steps":4})",
               "long-1"),
      nullptr);
  ASSERT_TRUE(outcome.status.ok())
      << outcome.status.error_code() << ": " << outcome.status.error_message();
  EXPECT_THAT(ProgressValues(outcome.Messages()), ElementsAre(1, 2, 3, 4));
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  EXPECT_THAT(FirstText(response->result_json()),
              HasSubstr("Long running operation completed"));
  EXPECT_TRUE(outcome.events.back().has_response());

  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(shadowcat_.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_TRUE(closed.upstream_deleted());
}

}  // namespace
}  // namespace shadowcat
