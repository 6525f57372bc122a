// Streams that survive: resumption with GET + Last-Event-ID (RZ-*), the
// standalone GET stream (SS-*), against the fault-injecting fake upstream.
// Requirement ids from shared/mcp-client-requirements.md name the tests.

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

// A config whose reconnects are quick and deterministic (no jitter).
Config FastReconnect() {
  Config config;
  config.reconnect_base_delay = absl::Milliseconds(20);
  config.reconnect_max_delay = absl::Milliseconds(200);
  config.reconnect_jitter = 0;
  config.reconnect_max_attempts = 3;
  return config;
}

std::string Note(int i) {
  return absl::StrCat(
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"n)",
      i, R"("}})");
}

std::vector<std::string> Notes(int n) {
  std::vector<std::string> notes;
  for (int i = 1; i <= n; ++i) notes.push_back(Note(i));
  return notes;
}

struct StreamOutcome {
  std::vector<v1::CallStreamEvent> events;
  grpc::Status status;
};

StreamOutcome CallStream(Env& env, const std::string& session,
                         absl::Duration timeout = absl::Seconds(10)) {
  v1::CallRequest request = EchoCall(session);
  auto context = Ctx(timeout);
  auto reader = env.shadowcat.stub->CallStream(context.get(), request);
  StreamOutcome out;
  v1::CallStreamEvent event;
  while (reader->Read(&event)) out.events.push_back(event);
  out.status = reader->Finish();
  return out;
}

// The data of the notifications a CallStream delivered, in order.
std::vector<std::string> NotesSeen(const StreamOutcome& outcome) {
  std::vector<std::string> seen;
  for (const v1::CallStreamEvent& e : outcome.events) {
    if (e.has_message()) seen.push_back(e.message().message_json());
  }
  return seen;
}

std::vector<RecordedRequest> RequestsOf(Env& env, absl::string_view method) {
  std::vector<RecordedRequest> out;
  for (RecordedRequest& r : env.upstream->requests()) {
    if (r.http_method == method) out.push_back(std::move(r));
  }
  return out;
}

class DropKindTest : public testing::TestWithParam<DropKind> {};

TEST_P(DropKindTest, RZ02_ADroppedPostStreamResumesByGetWithLastEventId) {
  Env env = Start({}, FastReconnect());
  std::string session = Open(env);
  ScriptedReply reply;
  reply.event_ids = true;
  reply.messages_before = Notes(6);
  reply.drop_after_events = 3;
  reply.drop_kind = GetParam();
  env.upstream->ScriptReply("tools/call", reply);

  StreamOutcome outcome = CallStream(env, session);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  // SS-06: every event exactly once, in order, then the response.
  EXPECT_EQ(NotesSeen(outcome), Notes(6));
  ASSERT_FALSE(outcome.events.empty());
  EXPECT_THAT(outcome.events.back().response().result_json(),
              HasSubstr("hi there"));

  // RZ-02: one POST, then a GET carrying the last id received and the
  // session's headers (SM-03, VN-04); never a second POST.
  RecordedRequest post, get;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &post));
  ASSERT_TRUE(env.upstream->WaitForRpc("GET", &get));
  EXPECT_FALSE(
      env.upstream->WaitForRpc("tools/call", nullptr, absl::Milliseconds(100)));
  EXPECT_FALSE(get.Header("Last-Event-ID").empty());
  EXPECT_THAT(get.Header("Accept"), HasSubstr("text/event-stream"));
  EXPECT_EQ(get.Header("Mcp-Session-Id"), "fake-session-1");
  EXPECT_EQ(get.Header("MCP-Protocol-Version"), "2025-11-25");
  EXPECT_THAT(Metrics(env),
              HasSubstr("shadowcat_upstream_stream_transitions_total{kind="
                        "\"post\",reason=\""));
}

INSTANTIATE_TEST_SUITE_P(FinAndRst, DropKindTest,
                         testing::Values(DropKind::kFin, DropKind::kRst),
                         [](const testing::TestParamInfo<DropKind>& info) {
                           return info.param == DropKind::kFin ? "Fin" : "Rst";
                         });

TEST(StreamResumptionTest, RZ05_RZ06_APollingCloseIsResumedAfterExactlyRetry) {
  Config config = FastReconnect();
  config.reconnect_base_delay = absl::Seconds(5);  // must not be used
  config.reconnect_max_delay = absl::Seconds(5);
  Env env = Start({}, config);
  std::string session = Open(env);
  ScriptedReply reply;
  reply.priming = true;  // RZ-04: an id and empty data
  reply.retry_ms = 400;
  reply.messages_before = Notes(2);
  reply.drop_after_events = 1;  // SEP-1699: close right after priming
  env.upstream->ScriptReply("tools/call", reply);

  StreamOutcome outcome = CallStream(env, session);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(NotesSeen(outcome), Notes(2));  // the priming event is no message
  RecordedRequest post, get;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &post));
  ASSERT_TRUE(env.upstream->WaitForRpc("GET", &get));
  // RZ-06: the server's retry, not the 5 s backoff; the conformance check
  // allows -50 ms and fails past twice the value.
  const absl::Duration waited = get.received_at - post.received_at;
  EXPECT_GE(waited, absl::Milliseconds(350));
  EXPECT_LT(waited, absl::Milliseconds(800));
}

TEST(StreamResumptionTest, RZ09_ADropBeforeAnyEventIdFailsTheCallClearly) {
  Env env = Start({}, FastReconnect());
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;  // no ids
  reply.messages_before = Notes(4);
  reply.drop_after_events = 2;
  env.upstream->ScriptReply("tools/call", reply);

  StreamOutcome outcome = CallStream(env, session);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(outcome.status.error_message(), HasSubstr("event id"));
  EXPECT_EQ(NotesSeen(outcome), Notes(2));
  // Never re-POSTed: a tool must not run twice; and no GET to resume from.
  EXPECT_EQ(RequestsOf(env, "GET").size(), 0u);
  int posts = 0;
  for (const RecordedRequest& r : env.upstream->requests()) {
    posts += r.rpc_method == "tools/call";
  }
  EXPECT_EQ(posts, 1);
  // The session is still fine.
  v1::CallResponse echo;
  EXPECT_TRUE(Call(env, session, "tools/call", kEchoParams, &echo).ok());
}

TEST(StreamResumptionTest, RZ10_ResumesThatBringNothingAreBounded) {
  Env env = Start({}, FastReconnect());  // 3 attempts without progress
  std::string session = Open(env);
  ResumeBehavior empty;
  empty.empty = true;  // 200 text/event-stream, then the end, every time
  env.upstream->SetResumeBehavior(empty);
  ScriptedReply reply;
  reply.event_ids = true;
  reply.messages_before = Notes(3);
  reply.drop_after_events = 2;
  env.upstream->ScriptReply("tools/call", reply);

  StreamOutcome outcome = CallStream(env, session);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(outcome.status.error_message(), HasSubstr("gave up"));
  EXPECT_EQ(RequestsOf(env, "GET").size(), 3u);
  EXPECT_THAT(Metrics(env),
              HasSubstr("shadowcat_upstream_stream_transitions_total{kind="
                        "\"post\",reason=\"exhausted\"} 1"));
}

TEST(StreamResumptionTest, SM08_WithoutRecoveryAResume404ExpiresTheSession) {
  Config config = FastReconnect();
  config.session_recovery = false;
  Env env = Start({}, config);
  std::string session = Open(env);
  ResumeBehavior gone;
  gone.status = 404;
  env.upstream->SetResumeBehavior(gone);
  ScriptedReply reply;
  reply.event_ids = true;
  reply.messages_before = Notes(3);
  reply.drop_after_events = 2;
  env.upstream->ScriptReply("tools/call", reply);

  StreamOutcome outcome = CallStream(env, session);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(outcome.status.error_message(), HasSubstr("expired"));
  v1::CallResponse echo;
  EXPECT_EQ(Call(env, session, "tools/list", "", &echo).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(StreamResumptionTest, RZ03_EachStreamResumesFromItsOwnCursor) {
  Env env = Start({}, FastReconnect());
  std::string session = Open(env);
  for (int i = 0; i < 2; ++i) {
    ScriptedReply reply;
    reply.event_ids = true;
    reply.messages_before = Notes(4);
    reply.drop_after_events = 2;
    env.upstream->ScriptReply("tools/call", reply);
  }
  StreamOutcome a, b;
  std::thread first([&] { a = CallStream(env, session); });
  b = CallStream(env, session);
  first.join();
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  EXPECT_EQ(NotesSeen(a), Notes(4));
  EXPECT_EQ(NotesSeen(b), Notes(4));
  std::vector<RecordedRequest> gets = RequestsOf(env, "GET");
  ASSERT_EQ(gets.size(), 2u);
  // Two streams, two different cursors.
  EXPECT_NE(gets[0].Header("Last-Event-ID"), gets[1].Header("Last-Event-ID"));
}

// --- The standalone GET stream --------------------------------------------

FakeMcpServerOptions WithGetStream() {
  FakeMcpServerOptions options;
  options.standalone_get.enabled = true;
  return options;
}

std::string OpenWithServerStream(Env& env) {
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  request.mutable_options()->set_open_server_stream(true);
  v1::OpenSessionResponse response;
  grpc::Status status =
      env.shadowcat.stub->OpenSession(Ctx().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.session_id();
}

v1::SubscribeRequest SubscribeTo(const std::string& session) {
  v1::SubscribeRequest request;
  request.set_session_id(session);
  return request;
}

TEST(ServerStreamTest, SS03_ServerMessagesOnTheGetStreamReachSubscribers) {
  Env env = Start(WithGetStream(), FastReconnect());
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  env.upstream->PushServerMessage(Note(1));
  env.upstream->PushServerMessage(
      R"({"jsonrpc":"2.0","id":41,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}})");
  v1::ServerMessage message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.message_json(), Note(1));
  EXPECT_EQ(message.sequence(), 1u);
  EXPECT_FALSE(message.event_id().empty());
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.method(), "sampling/createMessage");

  v1::RespondRequest respond;
  respond.set_session_id(session);
  respond.set_request_id_json("41");
  respond.set_result_json(
      R"({"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"})");
  v1::RespondResponse responded;
  ASSERT_TRUE(
      env.shadowcat.stub->Respond(Ctx().get(), respond, &responded).ok());
  RecordedRequest answer;
  ASSERT_TRUE(env.upstream->WaitForResponseTo("41", &answer));
  EXPECT_THAT(answer.body, HasSubstr(R"("model":"m")"));

  v1::GetSessionRequest get;
  get.set_session_id(session);
  v1::SessionInfo info;
  ASSERT_TRUE(env.shadowcat.stub->GetSession(Ctx().get(), get, &info).ok());
  EXPECT_EQ(info.server_stream(), v1::SERVER_STREAM_STATUS_OPEN);
  bool has_get = false;
  for (const v1::StreamInfo& s : info.streams()) {
    has_get |= s.kind() == v1::STREAM_KIND_GET &&
               s.state() == v1::STREAM_STATE_CONNECTED;
  }
  EXPECT_TRUE(has_get);
  context->TryCancel();
}

TEST(ServerStreamTest, PI01_APingOnTheGetStreamIsAnsweredByShadowcat) {
  Env env = Start(WithGetStream(), FastReconnect());
  std::string session = OpenWithServerStream(env);
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  env.upstream->PushServerMessage(
      R"({"jsonrpc":"2.0","id":"p-1","method":"ping"})");
  RecordedRequest answer;
  ASSERT_TRUE(env.upstream->WaitForResponseTo("\"p-1\"", &answer));
  EXPECT_EQ(answer.body, R"({"jsonrpc":"2.0","id":"p-1","result":{}})");
}

TEST(ServerStreamTest, RZ07_SS08_ADroppedGetStreamIsResumedWithOneGetAtATime) {
  FakeMcpServerOptions options = WithGetStream();
  options.standalone_get.priming = true;
  options.standalone_get.drop_after_events = 2;  // priming + one message
  Env env = Start(options, FastReconnect());
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  for (int i = 1; i <= 3; ++i) env.upstream->PushServerMessage(Note(i));
  v1::ServerMessage message;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(reader->Read(&message)) << i;
    EXPECT_EQ(message.message_json(), Note(i));  // once each, in order
    EXPECT_EQ(message.sequence(), static_cast<uint64_t>(i));
  }
  std::vector<RecordedRequest> gets = RequestsOf(env, "GET");
  ASSERT_GE(gets.size(), 2u);
  EXPECT_EQ(gets[0].Header("Last-Event-ID"), "");
  EXPECT_FALSE(gets[1].Header("Last-Event-ID").empty());
  // SS-08: never two GETs at once, so the fake never had to answer 409.
  EXPECT_EQ(MetricValue(Metrics(env),
                        "shadowcat_upstream_http_responses_total{"
                        "code_class=\"4xx\"}"),
            0);
  context->TryCancel();
}

TEST(ServerStreamTest, SS09_KeepaliveCommentsKeepAQuietStreamAlive) {
  FakeMcpServerOptions options = WithGetStream();
  options.standalone_get.keepalive_interval = absl::Milliseconds(100);
  Config config = FastReconnect();
  // Ten keepalives per timeout: a loaded machine (sanitizers) must not miss
  // the window by accident.
  config.read_timeout = absl::Seconds(1);
  Env env = Start(options, config);
  std::string session = OpenWithServerStream(env);
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  // Two and a half read timeouts long, with nothing but comments.
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_EQ(RequestsOf(env, "GET").size(), 1u);
  // after_sequence 0: the message may land before the subscription does.
  v1::SubscribeRequest subscribe = SubscribeTo(session);
  subscribe.set_after_sequence(0);
  auto context = Ctx();
  auto reader = env.shadowcat.stub->Subscribe(context.get(), subscribe);
  env.upstream->PushServerMessage(Note(7));
  v1::ServerMessage message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.message_json(), Note(7));
  context->TryCancel();
}

TEST(ServerStreamTest, SS05_AResponseOnTheGetStreamFindsItsCaller) {
  Env env = Start(WithGetStream(), FastReconnect());
  std::string session = OpenWithServerStream(env);
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  ScriptedReply reply;
  reply.sse = true;
  reply.hold = "post";  // the POST stream stays silent
  env.upstream->ScriptReply("tools/call", reply);
  StreamOutcome outcome;
  std::thread caller([&] { outcome = CallStream(env, session); });
  RecordedRequest post;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &post));
  env.upstream->PushServerMessage(absl::StrCat(
      R"({"jsonrpc":"2.0","id":)", post.rpc_id, R"(,"result":{"via":"get"}})"));
  caller.join();
  env.upstream->Release("post");
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.events.back().response().result_json(), R"({"via":"get"})");
}

}  // namespace
}  // namespace shadowcat
