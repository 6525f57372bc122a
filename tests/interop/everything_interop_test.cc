// Interop with the MCP project's reference "everything" server (npm
// @modelcontextprotocol/server-everything, started by everything_server.mjs)
// over Streamable HTTP: it always runs with an event store (priming events,
// UUID event ids), announces conditional tools with list_changed, and reports
// long-running progress.

#include <string>
#include <vector>

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

class EverythingInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<NodePeer> peer =
        StartNodePeer("everything_server.mjs", {},
                      {"@modelcontextprotocol/server-everything"});
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

  // Opens a session advertising `capabilities_json`, then waits until the
  // server registered `tool` (it does so after notifications/initialized).
  std::string OpenWithTool(const std::string& capabilities_json,
                           const std::string& tool) {
    v1::OpenSessionRequest open;
    open.set_upstream_url(peer_.url);
    open.set_capabilities_json(capabilities_json);
    v1::OpenSessionResponse opened;
    grpc::Status status =
        shadowcat_.stub->OpenSession(Ctx().get(), open, &opened);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (int i = 0; i < 100; ++i) {
      v1::CallResponse tools;
      if (Call(opened.session_id(), "tools/list", "{}", &tools).ok() &&
          tools.result_json().find("\"" + tool + "\"") != std::string::npos) {
        return opened.session_id();
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << tool << " never appeared in tools/list";
    return opened.session_id();
  }

  // Answers the server request in `message` with `result_json`.
  void Answer(const std::string& session, const v1::ServerMessage& message,
              const std::string& result_json) {
    boost::json::value json = ParseJson(message.message_json());
    v1::RespondRequest respond;
    respond.set_session_id(session);
    respond.set_request_id_json(boost::json::serialize(json.at("id")));
    respond.set_result_json(result_json);
    v1::RespondResponse responded;
    grpc::Status status =
        shadowcat_.stub->Respond(Ctx().get(), respond, &responded);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  NodePeer peer_;
  TestShadowcat shadowcat_;
};

TEST_F(EverythingInteropTest, OpenListEchoAndLongRunningProgress) {
  v1::OpenSessionRequest open;
  open.set_upstream_url(peer_.url);
  open.mutable_client_info()->set_name("shadowcat-interop");
  v1::OpenSessionResponse opened;
  grpc::Status status =
      shadowcat_.stub->OpenSession(Ctx().get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.protocol_version(), "2025-11-25");
  EXPECT_THAT(opened.server_info_json(), HasSubstr("mcp-servers/everything"));
  EXPECT_FALSE(opened.instructions().empty());
  const std::string session = opened.session_id();

  v1::CallResponse tools;
  status = Call(session, "tools/list", "{}", &tools);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(tools.result_json(), HasSubstr("\"echo\""));
  EXPECT_THAT(tools.result_json(),
              HasSubstr("\"trigger-long-running-operation\""));

  v1::CallResponse echo;
  status =
      Call(session, "tools/call",
           R"({"name":"echo","arguments":{"message":"through the sidecar"}})",
           &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FirstText(echo.result_json()), "Echo: through the sidecar")
      << echo.ShortDebugString();

  // 4 steps of 0.25 s, a progress notification after each.
  StreamOutcome outcome =
      RunCallStream(*shadowcat_.stub,
                    ToolCall(session, "trigger-long-running-operation",
                             R"({"duration":1,"steps":4})", "long-1"),
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

TEST_F(EverythingInteropTest, SamplingRequestIsAnsweredThroughRespond) {
  const std::string session =
      OpenWithTool(R"({"sampling":{}})", "trigger-sampling-request");
  int requests = 0;
  StreamOutcome outcome = RunCallStream(
      *shadowcat_.stub,
      ToolCall(session, "trigger-sampling-request",
               R"({"prompt":"say hi","maxTokens":20})"),
      [&](const v1::ServerMessage& message) {
        if (message.method() != "sampling/createMessage") return;
        ++requests;
        Answer(
            session, message,
            R"({"role":"assistant","content":{"type":"text","text":"hi from the backend"},"model":"backend-model","stopReason":"endTurn"})");
      });
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(requests, 1);
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  EXPECT_THAT(response->result_json(), HasSubstr("hi from the backend"));
  EXPECT_THAT(response->result_json(), HasSubstr("backend-model"));
}

TEST_F(EverythingInteropTest, ElicitationRequestIsAnsweredThroughRespond) {
  const std::string session =
      OpenWithTool(R"({"elicitation":{}})", "trigger-elicitation-request");
  int requests = 0;
  StreamOutcome outcome = RunCallStream(
      *shadowcat_.stub, ToolCall(session, "trigger-elicitation-request", "{}"),
      [&](const v1::ServerMessage& message) {
        if (message.method() != "elicitation/create") return;
        ++requests;
        Answer(session, message, R"({"action":"decline"})");
      });
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(requests, 1);
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  EXPECT_THAT(response->result_json(), HasSubstr("declined"));
}

}  // namespace
}  // namespace shadowcat
