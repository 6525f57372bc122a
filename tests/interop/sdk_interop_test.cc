// Interop: Shadowcat against the official TypeScript MCP SDK server (npm
// @modelcontextprotocol/sdk), in both of its response modes. The node peer is
// tests/interop/sdk_server.mjs, found through the test's runfiles (see
// interop_paths.h and node_peer.h).

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"
#include "tests/interop/node_peer.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

class SdkInteropTest : public ::testing::TestWithParam<bool /*json*/> {
 protected:
  void SetUp() override {
    // Not a skip: without the peer the interop claim is unverified, so the test
    // fails.
    std::vector<std::string> args;
    if (GetParam()) args.push_back("--json");
    absl::StatusOr<NodePeer> peer =
        StartNodePeer("sdk_server.mjs", args, {"@modelcontextprotocol/sdk"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_ = *std::move(peer);
    url_ = peer_.url;
    shadowcat_ = StartShadowcat({url_});
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
  std::string url_;
  TestShadowcat shadowcat_;
};

TEST_P(SdkInteropTest, OpenListCallClose) {
  v1::OpenSessionRequest open;
  open.set_upstream_url(url_);
  open.mutable_client_info()->set_name("shadowcat-interop");
  v1::OpenSessionResponse opened;
  grpc::Status status =
      shadowcat_.stub->OpenSession(Ctx().get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.protocol_version(), "2025-11-25");
  EXPECT_THAT(opened.server_capabilities_json(), HasSubstr("tools"));

  v1::CallResponse tools;
  status = Call(opened.session_id(), "tools/list", "{}", &tools);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(tools.result_json(), HasSubstr("\"echo\""));
  EXPECT_THAT(tools.result_json(), HasSubstr("\"add\""));

  v1::CallResponse echo;
  status = Call(opened.session_id(), "tools/call",
                R"({"name":"echo","arguments":{"text":"through the sidecar"}})",
                &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(echo.result_json(), HasSubstr("through the sidecar"));

  v1::CallResponse add;
  status = Call(opened.session_id(), "tools/call",
                R"({"name":"add","arguments":{"a":2,"b":3}})", &add);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(add.result_json(), HasSubstr("5"));

  v1::CallResponse ping;
  ASSERT_TRUE(Call(opened.session_id(), "ping", "", &ping).ok());
  EXPECT_EQ(ping.result_json(), "{}");

  v1::NotifyRequest notify;
  notify.set_session_id(opened.session_id());
  notify.set_method("notifications/roots/list_changed");
  v1::NotifyResponse notified;
  status = shadowcat_.stub->Notify(Ctx().get(), notify, &notified);
  EXPECT_TRUE(status.ok()) << status.error_message();

  v1::CloseSessionRequest close;
  close.set_session_id(opened.session_id());
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(shadowcat_.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_TRUE(closed.upstream_deleted());
}

INSTANTIATE_TEST_SUITE_P(ResponseModes, SdkInteropTest,
                         ::testing::Values(false, true), [](const auto& info) {
                           return info.param ? "Json" : "Sse";
                         });

}  // namespace
}  // namespace shadowcat
