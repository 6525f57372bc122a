// Interop with the official TypeScript SDK server (sdk_server.mjs) on what
// travels inside a request's SSE stream: a stream the server drops mid-call and
// Shadowcat resumes with GET + Last-Event-ID (SEP-1699, the SDK's event store),
// and server requests (elicitation, sampling) answered by the backend with
// Respond.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"
#include "tests/interop/node_peer.h"
#include "tests/interop/stream_helpers.h"

namespace shadowcat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SdkStreamsTest : public ::testing::Test {
 protected:
  void StartPeer(const std::vector<std::string>& args) {
    absl::StatusOr<NodePeer> peer =
        StartNodePeer("sdk_server.mjs", args, {"@modelcontextprotocol/sdk"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_ = *std::move(peer);
    shadowcat_ = StartShadowcat({peer_.url});
    ASSERT_NE(shadowcat_.server, nullptr);
  }

  std::string Open(const std::string& capabilities_json = "") {
    v1::OpenSessionRequest open;
    open.set_upstream_url(peer_.url);
    open.mutable_client_info()->set_name("shadowcat-interop");
    open.set_capabilities_json(capabilities_json);
    v1::OpenSessionResponse opened;
    grpc::Status status =
        shadowcat_.stub->OpenSession(Ctx().get(), open, &opened);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(opened.protocol_version(), "2025-11-25");
    return opened.session_id();
  }

  // Answers a server request seen on a CallStream.
  grpc::Status Respond(const std::string& session,
                       const v1::ServerMessage& request,
                       const std::string& result_json) {
    boost::json::value json = ParseJson(request.message_json());
    EXPECT_TRUE(json.is_object() && json.as_object().contains("id"))
        << request.message_json();
    if (!json.is_object() || !json.as_object().contains("id"))
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no id");
    v1::RespondRequest respond;
    respond.set_session_id(session);
    respond.set_request_id_json(
        boost::json::serialize(json.as_object().at("id")));
    respond.set_result_json(result_json);
    v1::RespondResponse responded;
    return shadowcat_.stub->Respond(Ctx().get(), respond, &responded);
  }

  // The number of peer log lines, from now on, starting with `prefix`
  // (--log-requests).
  int CountPeerLines(const std::string& prefix) {
    int n = 0;
    while (peer_.process->WaitForLine(prefix, absl::Milliseconds(200)).ok())
      ++n;
    return n;
  }

  NodePeer peer_;
  TestShadowcat shadowcat_;
};

// The peer sends 2 of 6 progress notifications, closes the request's SSE stream
// (the SDK's closeSSEStream, after a priming event with `retry: 100`), then
// sends the other 4 and the result while the client is away; its event store
// keeps them. Shadowcat must resume with a GET carrying Last-Event-ID (never
// re-POST the call) and deliver every progress exactly once, in order, then the
// result.
TEST_F(SdkStreamsTest, DropMidCallResumesAndDeliversEveryProgressOnce) {
  StartPeer({"--event-store", "--retry-ms", "100", "--log-requests"});
  const std::string session = Open();
  ASSERT_FALSE(session.empty());

  StreamOutcome outcome = RunCallStream(
      *shadowcat_.stub,
      ToolCall(session, "drop_mid_call",
               R"({"steps":6,"dropAfter":2,"delayMs":40})", "resume-1"),
      nullptr);
  ASSERT_TRUE(outcome.status.ok())
      << outcome.status.error_code() << ": " << outcome.status.error_message();
  ASSERT_FALSE(outcome.events.empty());
  EXPECT_TRUE(outcome.events.front().has_started())
      << "the first event must be `started`";
  EXPECT_TRUE(outcome.events.back().has_response())
      << "the last event must be the response";
  EXPECT_THAT(ProgressValues(outcome.Messages()),
              ElementsAre(1, 2, 3, 4, 5, 6));
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(FirstText(response->result_json()), "done 6")
      << response->ShortDebugString();

  // On the wire: one POST of the call, then at least one GET resuming it by
  // event id.
  EXPECT_EQ(CountPeerLines("HTTP POST tools/call "), 1)
      << "the call was POSTed again";
  int resumes = 0;
  while (true) {
    absl::StatusOr<std::string> get =
        peer_.process->WaitForLine("HTTP GET ", absl::Milliseconds(200));
    if (!get.ok()) break;
    if (!absl::EndsWith(*get, "last-event-id=-")) ++resumes;
  }
  EXPECT_GE(resumes, 1) << "no GET with Last-Event-ID reached the server";
}

TEST_F(SdkStreamsTest, ElicitationThroughCallStreamAndRespond) {
  StartPeer({});
  const std::string session = Open(R"({"elicitation":{}})");
  ASSERT_FALSE(session.empty());

  int requests = 0;
  StreamOutcome outcome = RunCallStream(
      *shadowcat_.stub,
      ToolCall(session, "elicit", R"({"message":"Your name?"})"),
      [&](const v1::ServerMessage& message) {
        if (message.method() != "elicitation/create") return;
        ++requests;
        EXPECT_THAT(message.message_json(), HasSubstr("Your name?"));
        grpc::Status status =
            Respond(session, message,
                    R"({"action":"accept","content":{"name":"Ada"}})");
        EXPECT_TRUE(status.ok()) << status.error_message();
      });
  ASSERT_TRUE(outcome.status.ok())
      << outcome.status.error_code() << ": " << outcome.status.error_message();
  EXPECT_EQ(requests, 1);
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  // The tool returns what the client answered, as JSON text.
  boost::json::value answer = ParseJson(FirstText(response->result_json()));
  ASSERT_TRUE(answer.is_object()) << response->ShortDebugString();
  EXPECT_EQ(answer.as_object().at("action"), "accept");
  EXPECT_EQ(answer.as_object().at("content").at("name"), "Ada");
}

TEST_F(SdkStreamsTest, SamplingThroughCallStreamAndRespond) {
  StartPeer({});
  const std::string session = Open(R"({"sampling":{}})");
  ASSERT_FALSE(session.empty());

  int requests = 0;
  StreamOutcome outcome = RunCallStream(
      *shadowcat_.stub, ToolCall(session, "sample", R"({"prompt":"Say hi"})"),
      [&](const v1::ServerMessage& message) {
        if (message.method() != "sampling/createMessage") return;
        ++requests;
        EXPECT_THAT(message.message_json(), HasSubstr("Say hi"));
        grpc::Status status = Respond(
            session, message,
            R"({"role":"assistant","content":{"type":"text","text":"hi there"},"model":"test-model"})");
        EXPECT_TRUE(status.ok()) << status.error_message();
      });
  ASSERT_TRUE(outcome.status.ok())
      << outcome.status.error_code() << ": " << outcome.status.error_message();
  EXPECT_EQ(requests, 1);
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  boost::json::value answer = ParseJson(FirstText(response->result_json()));
  ASSERT_TRUE(answer.is_object()) << response->ShortDebugString();
  EXPECT_EQ(answer.as_object().at("model"), "test-model");
  EXPECT_EQ(answer.as_object().at("content").at("text"), "hi there");
}

// Progress on a resumable stream that is never dropped: the priming event (an
// id and empty data) must not reach the backend as a message, and ids must not
// confuse anything.
TEST_F(SdkStreamsTest, ProgressOnResumableStreamWithoutDrop) {
  StartPeer({"--event-store"});
  const std::string session = Open();
  ASSERT_FALSE(session.empty());
  StreamOutcome outcome = RunCallStream(
      *shadowcat_.stub, ToolCall(session, "progress", R"({"steps":3})", "p-1"),
      nullptr);
  ASSERT_TRUE(outcome.status.ok())
      << outcome.status.error_code() << ": " << outcome.status.error_message();
  EXPECT_THAT(ProgressValues(outcome.Messages()), ElementsAre(1, 2, 3));
  EXPECT_EQ(outcome.Messages().size(), 3u)
      << "only the 3 progress notifications";
  std::optional<v1::CallResponse> response = outcome.Response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(FirstText(response->result_json()), "done 3");
}

// Server notifications that belong to no request travel on the standalone GET
// stream, which Subscribe opens; each reaches the subscriber once, with
// increasing sequence numbers. (notify_get waits, in the peer, until the GET
// stream is connected before it sends.)
TEST_F(SdkStreamsTest, SubscribeReceivesGetStreamNotifications) {
  StartPeer({"--event-store"});
  const std::string session = Open();
  ASSERT_FALSE(session.empty());

  grpc::ClientContext subscribe_context;
  subscribe_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
  v1::SubscribeRequest subscribe;
  subscribe.set_session_id(session);
  std::unique_ptr<grpc::ClientReader<v1::ServerMessage>> reader =
      shadowcat_.stub->Subscribe(&subscribe_context, subscribe);

  v1::CallResponse sent;
  v1::CallRequest call =
      ToolCall(session, "notify_get",
               R"({"text":"to the subscriber","count":2,"waitMs":5000})");
  grpc::Status status = shadowcat_.stub->Call(Ctx().get(), call, &sent);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": "
                           << status.error_message();
  ASSERT_EQ(FirstText(sent.result_json()), "sent 2")
      << "the peer saw no standalone GET stream: " << sent.ShortDebugString();

  std::vector<v1::ServerMessage> received;
  v1::ServerMessage message;
  while (received.size() < 2 && reader->Read(&message)) {
    if (message.method() == "notifications/message")
      received.push_back(message);
  }
  subscribe_context.TryCancel();
  grpc::Status finished = reader->Finish();
  ASSERT_EQ(received.size(), 2u) << "Subscribe ended: " << finished.error_code()
                                 << ": " << finished.error_message();
  EXPECT_THAT(received[0].message_json(), HasSubstr("\"index\":1"));
  EXPECT_THAT(received[1].message_json(), HasSubstr("\"index\":2"));
  EXPECT_GT(received[0].sequence(), 0u);
  EXPECT_GT(received[1].sequence(), received[0].sequence());
  EXPECT_FALSE(received[0].event_id().empty())
      << "the peer's event ids are not reported";
}

}  // namespace
}  // namespace shadowcat
