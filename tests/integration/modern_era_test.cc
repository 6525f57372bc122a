// The 2026-07-28 era against the fake upstream, for what the SDK v2 peer
// cannot be made to do: subscriptions/listen behind Subscribe when its stream
// drops (RZ-11: issued again with a new id, never resumed), when the server
// offers nothing to listen to, refuses the method or ends the subscription;
// and the discovery probe's fallback rules and era cache (VN-11).

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kAck[] =
    R"({"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":1}}})";
constexpr char kToolsChanged[] =
    R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":1}}})";

// Scripts the discovery answer of a modern server with `capabilities`, then
// opens a session pinned to 2026-07-28.
std::string OpenModern(Env& env, const std::string& capabilities) {
  ScriptedReply discover;
  discover.result_json =
      R"({"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":)" +
      capabilities + "}";
  env.upstream->ScriptReply("server/discover", discover);
  grpc::Status status;
  std::string session = Open(env, &status, "2026-07-28");
  EXPECT_TRUE(status.ok()) << status.error_message();
  return session;
}

std::unique_ptr<grpc::ClientReader<v1::ServerMessage>> Subscribe(
    Env& env, grpc::ClientContext* context, const std::string& session) {
  v1::SubscribeRequest request;
  request.set_session_id(session);
  return env.shadowcat.stub->Subscribe(context, request);
}

std::vector<RecordedRequest> Requests(Env& env, const std::string& method) {
  std::vector<RecordedRequest> out;
  for (const RecordedRequest& r : env.upstream->requests()) {
    if (r.rpc_method == method) out.push_back(r);
  }
  return out;
}

TEST(ModernListenTest, RZ11_ADroppedListenIsIssuedAgainWithANewId) {
  Env env = Start({}, FastReconnectConfig());
  const std::string session =
      OpenModern(env, R"({"tools":{"listChanged":true}})");
  ScriptedReply dropped;
  dropped.sse = true;
  dropped.messages_before = {kAck, kToolsChanged};
  dropped.drop_after_events = 2;
  env.upstream->ScriptReply("subscriptions/listen", dropped);
  ScriptedReply held;
  held.sse = true;
  held.messages_before = {kAck, kToolsChanged};
  held.hold = "never";
  env.upstream->ScriptReply("subscriptions/listen", held);

  auto context = Ctx();
  auto reader = Subscribe(env, context.get(), session);
  std::vector<std::string> methods;
  v1::ServerMessage message;
  for (uint64_t sequence = 1; sequence <= 4; ++sequence) {
    ASSERT_TRUE(reader->Read(&message)) << "message " << sequence;
    EXPECT_EQ(message.sequence(), sequence);
    methods.push_back(message.method());
  }
  // The acknowledgement of the second issue tells the backend that changes
  // in the gap may have been missed.
  EXPECT_THAT(methods, ElementsAre("notifications/subscriptions/acknowledged",
                                   "notifications/tools/list_changed",
                                   "notifications/subscriptions/acknowledged",
                                   "notifications/tools/list_changed"));

  std::vector<RecordedRequest> listens = Requests(env, "subscriptions/listen");
  ASSERT_EQ(listens.size(), 2u);
  EXPECT_NE(listens[0].rpc_id, listens[1].rpc_id);  // a new request
  for (const RecordedRequest& listen : listens) {
    EXPECT_THAT(listen.body,
                HasSubstr(R"("notifications":{"toolsListChanged":true})"));
    EXPECT_THAT(listen.body,
                HasSubstr(R"("io.modelcontextprotocol/protocolVersion")"));
    EXPECT_EQ(listen.Header("Mcp-Method"), "subscriptions/listen");
    EXPECT_EQ(listen.Header("MCP-Protocol-Version"), "2026-07-28");
    EXPECT_EQ(listen.Header("Last-Event-ID"), "");
  }
  for (const RecordedRequest& r : env.upstream->requests()) {
    EXPECT_EQ(r.http_method, "POST");  // no GET, no resume (SM-10)
  }
  EXPECT_EQ(Describe(env, session).server_stream(),
            v1::SERVER_STREAM_STATUS_OPEN);

  // The last subscriber leaving closes the stream (CN-07: no notification).
  context->TryCancel();
  ASSERT_TRUE(env.upstream->WaitForClientDisconnect());
  EXPECT_TRUE(Eventually([&] {
    return Describe(env, session).server_stream() ==
           v1::SERVER_STREAM_STATUS_NOT_OPENED;
  }));
  EXPECT_FALSE(env.upstream->WaitForRpc("notifications/cancelled", nullptr,
                                        absl::Milliseconds(100)));
}

// A server whose capabilities advertise no list changes has nothing to listen
// to; one that answers -32601 does not know the method. Either way the session
// has no server stream (as a GET answered 405, SS-04), and subscribers stay
// for the server messages of unary calls.
class ModernNoListenTest : public ::testing::TestWithParam<bool> {};

TEST_P(ModernNoListenTest, NoServerStreamButSubscribersStay) {
  const bool advertised = GetParam();
  Env env = Start();
  const std::string session =
      OpenModern(env, advertised ? R"({"tools":{"listChanged":true}})"
                                 : R"({"tools":{}})");
  if (advertised) {
    ScriptedReply unknown;
    unknown.status = 404;
    unknown.error_json = R"({"code":-32601,"message":"Method not found"})";
    env.upstream->ScriptReply("subscriptions/listen", unknown);
  }
  auto context = Ctx();
  auto reader = Subscribe(env, context.get(), session);
  ASSERT_TRUE(Eventually([&] {
    return Describe(env, session).server_stream() ==
           v1::SERVER_STREAM_STATUS_UNSUPPORTED;
  }));
  EXPECT_EQ(Requests(env, "subscriptions/listen").size(), advertised ? 1u : 0u);

  ScriptedReply with_log;
  with_log.sse = true;
  with_log.messages_before = {
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}})"};
  env.upstream->ScriptReply("tools/call", with_log);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  v1::ServerMessage message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.method(), "notifications/message");
  // A second subscriber does not ask again.
  auto context2 = Ctx();
  auto reader2 = Subscribe(env, context2.get(), session);
  ASSERT_TRUE(Call(env, session, "tools/list", "", &response).ok());
  EXPECT_EQ(Requests(env, "subscriptions/listen").size(), advertised ? 1u : 0u);
  context->TryCancel();
  context2->TryCancel();
}

INSTANTIATE_TEST_SUITE_P(AdvertisedOrNot, ModernNoListenTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "RefusedWith32601"
                                             : "NothingAdvertised";
                         });

TEST(ModernListenTest, ARefusedListenEndsSubscribersWithItsStatus) {
  Env env = Start();
  const std::string session =
      OpenModern(env, R"({"tools":{"listChanged":true}})");
  ScriptedReply forbidden;
  forbidden.status = 403;
  env.upstream->ScriptReply("subscriptions/listen", forbidden);
  auto context = Ctx();
  auto reader = Subscribe(env, context.get(), session);
  v1::ServerMessage message;
  EXPECT_FALSE(reader->Read(&message));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("subscribe again"));
  EXPECT_EQ(Describe(env, session).server_stream(),
            v1::SERVER_STREAM_STATUS_FAILED);
}

// The server ends the subscription gracefully (a result): no re-issue; the
// subscribers end and a later Subscribe opens it again.
TEST(ModernListenTest, AGracefulEndIsNotReissued) {
  Env env = Start({}, FastReconnectConfig());
  const std::string session =
      OpenModern(env, R"({"tools":{"listChanged":true}})");
  ScriptedReply ended;
  ended.sse = true;
  ended.messages_before = {kAck};
  ended.result_json = R"({"resultType":"complete"})";
  env.upstream->ScriptReply("subscriptions/listen", ended);
  auto context = Ctx();
  auto reader = Subscribe(env, context.get(), session);
  v1::ServerMessage message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.method(), "notifications/subscriptions/acknowledged");
  EXPECT_FALSE(reader->Read(&message));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("ended the subscriptions"));
  EXPECT_EQ(Describe(env, session).server_stream(),
            v1::SERVER_STREAM_STATUS_NOT_OPENED);
  EXPECT_EQ(Requests(env, "subscriptions/listen").size(), 1u);
}

// VN-11 against a session-era server (the fake answers server/discover with
// -32601): initialize follows, and the endpoint is remembered, so the next
// session skips the probe.
TEST(DiscoveryProbeTest, VN11_ASessionEraServerIsProbedOncePerEndpoint) {
  Env env = Start();
  std::string first = Open(env);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(Describe(env, first).era(), v1::PROTOCOL_ERA_SESSION);
  std::string second = Open(env);
  ASSERT_FALSE(second.empty());
  std::vector<std::string> methods;
  for (const RecordedRequest& r : env.upstream->requests()) {
    if (!r.rpc_method.empty()) methods.push_back(r.rpc_method);
  }
  EXPECT_THAT(methods, ElementsAre("server/discover", "initialize",
                                   "notifications/initialized", "initialize",
                                   "notifications/initialized"));
  // The probe carried the modern envelope; initialize none of it.
  std::vector<RecordedRequest> probes = Requests(env, "server/discover");
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].Header("MCP-Protocol-Version"), "2026-07-28");
  EXPECT_EQ(Requests(env, "initialize")[0].Header("MCP-Protocol-Version"), "");
}

// VN-10/VN-11: a modern refusal names the versions the server speaks. A
// session-era one among them means initialize; none means the open fails
// without an initialize.
TEST(DiscoveryProbeTest,
     VN11_UnsupportedVersionFallsBackOnlyToAVersionWeSpeak) {
  for (const bool speaks_ours : {true, false}) {
    SCOPED_TRACE(speaks_ours);
    Env env = Start();
    ScriptedReply refused;
    refused.status = 400;
    refused.error_json =
        speaks_ours
            ? R"({"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2025-11-25"],"requested":"2026-07-28"}})"
            : R"({"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2099-01-01"],"requested":"2026-07-28"}})";
    env.upstream->ScriptReply("server/discover", refused);
    grpc::Status status;
    std::string session = Open(env, &status);
    EXPECT_EQ(status.ok(), speaks_ours) << status.error_message();
    EXPECT_EQ(Requests(env, "initialize").size(), speaks_ours ? 1u : 0u);
    if (!speaks_ours) {
      EXPECT_THAT(status.error_message(), HasSubstr("-32022"));
    }
  }
}

// A backend that pins a session-era version gets no probe.
TEST(DiscoveryProbeTest, APinnedSessionEraVersionIsNotProbed) {
  Env env = Start();
  grpc::Status status;
  std::string session = Open(env, &status, "2025-06-18");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(Requests(env, "server/discover").empty());
}

}  // namespace
}  // namespace shadowcat
