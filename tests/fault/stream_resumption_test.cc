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

// The series of a transition counter or a state gauge, by its labels.
std::string Transitions(absl::string_view kind, absl::string_view reason) {
  return absl::StrCat("shadowcat_upstream_stream_transitions_total{kind=\"",
                      kind, "\",reason=\"", reason, "\"}");
}
std::string Active(absl::string_view kind, absl::string_view state) {
  return absl::StrCat("shadowcat_upstream_streams_active{kind=\"", kind,
                      "\",state=\"", state, "\"}");
}

// True when `request` carries a header named `name` at all (Header() cannot
// tell an empty value from none).
bool HasHeader(const RecordedRequest& request, absl::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return true;
  }
  return false;
}

// Runs a CallStream whose reply carries `notes` notifications with event ids
// and drops after `drop_after` events, each resume answered as `resume` says.
StreamOutcome DroppedCall(Env& env, const std::string& session, int notes,
                          size_t drop_after, const ResumeBehavior& resume) {
  env.upstream->SetResumeBehavior(resume);
  ScriptedReply reply;
  reply.event_ids = true;
  reply.messages_before = Notes(notes);
  reply.drop_after_events = drop_after;
  env.upstream->ScriptReply("tools/call", reply);
  return CallStream(env, session);
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
  // SS-02: once the response is in, the stream's end is no reason to resume.
  EXPECT_FALSE(
      env.upstream->WaitForRpc("GET", nullptr, absl::Milliseconds(200)));
  EXPECT_FALSE(get.Header("Last-Event-ID").empty());
  EXPECT_THAT(get.Header("Accept"), HasSubstr("text/event-stream"));
  EXPECT_EQ(get.Header("Mcp-Session-Id"), "fake-session-1");
  EXPECT_EQ(get.Header("MCP-Protocol-Version"), "2025-11-25");
  // The drop is counted under its reason (every series exists from the
  // start, so the value is what tells).
  const std::string metrics = Metrics(env);
  EXPECT_EQ(MetricValue(metrics, Transitions("post", "eof")) +
                MetricValue(metrics, Transitions("post", "dropped")),
            1);
  EXPECT_EQ(MetricValue(metrics, Transitions("post", "connected")), 2);
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
  // RZ-04: the priming event's empty data was not taken for a message.
  EXPECT_EQ(
      MetricValue(Metrics(env),
                  "shadowcat_parse_errors_total{source=\"upstream_json\"}"),
      0);
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
  StreamOutcome outcome = DroppedCall(env, session, 3, 2, empty);
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
  StreamOutcome outcome = DroppedCall(env, session, 3, 2, gone);
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

// Item 1 of issue 5: a stream's state, cursor and reconnects are visible in
// GetSession and ListSessions, and the metrics count streams by state and
// transitions by reason, while it lives.
TEST(StreamStateTest, GetSessionListSessionsAndMetricsFollowAStreamsStates) {
  Config config = FastReconnect();
  config.max_connections_per_session = 1;  // PX-05: the stream's own slot
  Env env = Start({}, config);
  std::string session = Open(env);
  const std::string before = Metrics(env);
  ScriptedReply reply;
  reply.event_ids = true;
  reply.retry_ms = 1500;  // long enough to be seen reconnecting
  reply.messages_before = Notes(4);
  reply.drop_after_events = 2;
  reply.hold = "resumed";  // the resumed stream waits here, connected
  env.upstream->ScriptReply("tools/call", reply);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->CallStream(context.get(), EchoCall(session, "seen"));
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(event.has_started());
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    ids.push_back(event.message().event_id());
  }

  // Dropped after two events: waiting out the server's retry.
  v1::StreamInfo stream;
  ASSERT_TRUE(Eventually([&] {
    v1::SessionInfo info = Describe(env, session);
    if (info.streams_size() != 1) return false;
    stream = info.streams(0);
    return stream.state() == v1::STREAM_STATE_RECONNECTING;
  }));
  EXPECT_EQ(stream.kind(), v1::STREAM_KIND_POST);
  EXPECT_EQ(stream.request_id(), "seen");
  EXPECT_EQ(stream.last_event_id(), ids[1]);
  EXPECT_EQ(stream.reconnects(), 0u);
  EXPECT_EQ(stream.events(), 2u);
  EXPECT_GT(stream.bytes(), 0u);
  // PX-05: a stream waiting to reconnect keeps its connection slot.
  v1::CallResponse refused;
  EXPECT_EQ(Call(env, session, "tools/list", "", &refused).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  std::string metrics = Metrics(env);
  EXPECT_EQ(MetricValue(metrics, Active("post", "reconnecting")), 1);
  EXPECT_EQ(MetricValue(metrics, Active("post", "connected")), 0);
  EXPECT_EQ(MetricValue(metrics, Transitions("post", "eof")) +
                MetricValue(metrics, Transitions("post", "dropped")),
            1);

  // Resumed: connected again, one reconnect, the cursor moved on.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    ids.push_back(event.message().event_id());
  }
  stream = Describe(env, session).streams(0);
  EXPECT_EQ(stream.state(), v1::STREAM_STATE_CONNECTED);
  EXPECT_EQ(stream.reconnects(), 1u);
  EXPECT_EQ(stream.last_event_id(), ids[3]);
  EXPECT_EQ(stream.events(), 4u);
  v1::ListSessionsResponse list;
  ASSERT_TRUE(env.shadowcat.stub->ListSessions(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.sessions_size(), 1);
  ASSERT_EQ(list.sessions(0).streams_size(), 1);
  EXPECT_EQ(list.sessions(0).streams(0).state(), v1::STREAM_STATE_CONNECTED);
  EXPECT_EQ(list.sessions(0).streams(0).reconnects(), 1u);
  EXPECT_EQ(list.sessions(0).streams(0).last_event_id(), ids[3]);
  metrics = Metrics(env);
  EXPECT_EQ(MetricValue(metrics, Active("post", "connected")), 1);
  EXPECT_EQ(MetricValue(metrics, Active("post", "reconnecting")), 0);
  EXPECT_EQ(MetricValue(metrics, Transitions("post", "connected")) -
                MetricValue(before, Transitions("post", "connected")),
            2);

  // The response closes it: nothing active, one more "complete".
  env.upstream->Release("resumed");
  while (reader->Read(&event)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(Describe(env, session).streams_size(), 0);
  metrics = Metrics(env);
  for (const char* state : {"connecting", "connected", "reconnecting"}) {
    EXPECT_EQ(MetricValue(metrics, Active("post", state)), 0) << state;
  }
  EXPECT_EQ(MetricValue(metrics, Transitions("post", "complete")) -
                MetricValue(before, Transitions("post", "complete")),
            1);
}

// SS-06: a server that resumes from an older point replays events the client
// already has; each reaches the backend once, and the replays are counted.
class ReplayOverlapTest : public testing::TestWithParam<size_t> {};

TEST_P(ReplayOverlapTest,
       SS06_EventsReplayedAfterAResumeAreDroppedAsDuplicates) {
  Env env = Start({}, FastReconnect());
  std::string session = Open(env);
  ResumeBehavior overlapping;
  overlapping.replay_overlap = GetParam();
  StreamOutcome outcome = DroppedCall(env, session, 6, 4, overlapping);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(NotesSeen(outcome), Notes(6));
  EXPECT_EQ(MetricValue(Metrics(env), "shadowcat_sse_events_duplicate_total"),
            static_cast<double>(GetParam()));
}

// 1: the event Last-Event-ID named comes again (an inclusive replay); 3: more.
INSTANTIATE_TEST_SUITE_P(Overlaps, ReplayOverlapTest, testing::Values(1, 3));

TEST(StreamResumptionTest, RZ10_ResumesThatAdvanceAreFollowedPastTheLimit) {
  Env env = Start({}, FastReconnect());  // 3 attempts without progress
  std::string session = Open(env);
  ResumeBehavior one_at_a_time;
  one_at_a_time.drop_after_events = 1;  // SEP-1699 polling, one event a time
  StreamOutcome outcome = DroppedCall(env, session, 8, 1, one_at_a_time);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(NotesSeen(outcome), Notes(8));
  // Each resume brought a new id and so reset the count: far more resumes
  // than the 3 allowed without progress.
  EXPECT_GE(RequestsOf(env, "GET").size(), 7u);
}

TEST(StreamResumptionTest, RZ06_WithoutRetryTheBackoffDoublesPerFruitlessTry) {
  Config config = FastReconnect();
  config.reconnect_base_delay = absl::Milliseconds(200);
  config.reconnect_max_delay = absl::Seconds(5);
  Env env = Start({}, config);  // no jitter, 3 attempts without progress
  std::string session = Open(env);
  ResumeBehavior empty;
  empty.empty = true;
  StreamOutcome outcome = DroppedCall(env, session, 3, 2, empty);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  RecordedRequest post;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &post));
  std::vector<RecordedRequest> gets = RequestsOf(env, "GET");
  ASSERT_EQ(gets.size(), 3u);
  // base, 2 x base, 4 x base: timers never fire early, and nothing else
  // (no server retry, no jitter) is stacked on them.
  const absl::Duration first = gets[0].received_at - post.received_at;
  const absl::Duration second = gets[1].received_at - gets[0].received_at;
  const absl::Duration third = gets[2].received_at - gets[1].received_at;
  EXPECT_GE(first, absl::Milliseconds(195));
  EXPECT_LT(first, absl::Milliseconds(700));
  EXPECT_GE(second, absl::Milliseconds(395));
  EXPECT_LT(second, absl::Milliseconds(1100));
  EXPECT_GE(third, absl::Milliseconds(795));
  EXPECT_LT(third, absl::Milliseconds(1900));
}

// RZ-12 (WHATWG): an empty `id:` field resets the cursor to "", and an empty
// cursor is never sent. A POST stream left without a cursor cannot resume
// (RZ-09).
TEST(StreamResumptionTest, RZ12_RZ09_APostStreamWhoseIdWasResetFailsClearly) {
  Env env = Start({}, FastReconnect());
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;
  reply.abort_after_head = true;
  reply.raw_body = absl::StrCat("id: e1\ndata: ", Note(1),
                                "\n\nid\ndata: ", Note(2), "\n\n");
  env.upstream->ScriptReply("tools/call", reply);

  StreamOutcome outcome = CallStream(env, session);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(outcome.status.error_message(), HasSubstr("event id"));
  EXPECT_EQ(NotesSeen(outcome), Notes(2));
  EXPECT_EQ(RequestsOf(env, "GET").size(), 0u);
}

// --- The standalone GET stream --------------------------------------------

FakeMcpServerOptions WithGetStream() {
  FakeMcpServerOptions options;
  options.standalone_get.enabled = true;
  return options;
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
  options.standalone_get.retry_ms = 300;         // RZ-07: polled like any
  options.standalone_get.drop_after_events = 2;  // priming + one message
  Config config = FastReconnect();
  config.reconnect_base_delay = absl::Seconds(5);  // must not be used
  config.reconnect_max_delay = absl::Seconds(5);
  Env env = Start(options, config);
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
  // After the server's retry, not the 5 s backoff (the gap also holds the
  // test's own push before the drop).
  EXPECT_GE(gets[1].received_at - gets[0].received_at, absl::Milliseconds(295));
  EXPECT_LT(gets[1].received_at - gets[0].received_at, absl::Seconds(3));
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

TEST(ServerStreamTest, RZ12_AGetStreamWhoseIdWasResetReopensWithoutTheHeader) {
  Env env = Start(WithGetStream(), FastReconnect());
  ScriptedReply first;  // the first GET: an id, then `id` with no value
  first.sse = true;
  first.abort_after_head = true;
  first.raw_body = absl::StrCat("id: g1\ndata: ", Note(1),
                                "\n\nid\ndata: ", Note(2), "\n\n");
  env.upstream->ScriptReply("GET", first);
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  v1::ServerMessage message;
  for (int i = 1; i <= 2; ++i) {
    ASSERT_TRUE(reader->Read(&message)) << i;
    EXPECT_EQ(message.message_json(), Note(i));
  }
  // The dropped GET stream is opened again, with no Last-Event-ID at all.
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  std::vector<RecordedRequest> gets = RequestsOf(env, "GET");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_FALSE(HasHeader(gets[0], "Last-Event-ID"));
  EXPECT_FALSE(HasHeader(gets[1], "Last-Event-ID"));
  env.upstream->PushServerMessage(Note(3));
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.message_json(), Note(3));
  context->TryCancel();
}

TEST(ServerStreamTest, SS04_A405OnAReconnectIsRememberedForTheSession) {
  FakeMcpServerOptions options = WithGetStream();
  options.standalone_get.priming = true;
  options.standalone_get.drop_after_events = 2;  // priming + one message
  Env env = Start(options, FastReconnect());
  ResumeBehavior refused;
  refused.status = 405;  // the server stops offering the stream
  env.upstream->SetResumeBehavior(refused);
  std::string session = Open(env);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->Subscribe(context.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  env.upstream->PushServerMessage(Note(1));
  v1::ServerMessage message;
  ASSERT_TRUE(reader->Read(&message));
  ASSERT_TRUE(Eventually([&] {
    return Describe(env, session).server_stream() ==
           v1::SERVER_STREAM_STATUS_UNSUPPORTED;
  }));
  // Not an error: the subscriber stays, and still gets what POST streams
  // carry.
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {Note(2)};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.message_json(), Note(2));
  // And nobody asks again: neither a second subscriber nor time.
  auto context2 = Ctx();
  auto reader2 =
      env.shadowcat.stub->Subscribe(context2.get(), SubscribeTo(session));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(RequestsOf(env, "GET").size(), 2u);
  EXPECT_EQ(Describe(env, session).server_stream(),
            v1::SERVER_STREAM_STATUS_UNSUPPORTED);
  context->TryCancel();
  context2->TryCancel();
}

TEST(ServerStreamTest, SS08_OneGetPerSessionAndA409IsRetriedNotDoubled) {
  Env env = Start(WithGetStream(), FastReconnect());
  ScriptedReply conflict;  // a stale GET the server has not noticed closing
  conflict.status = 409;
  env.upstream->ScriptReply("GET", conflict);
  std::string session = OpenWithServerStream(env);
  auto context1 = Ctx();
  auto context2 = Ctx();
  auto reader1 =
      env.shadowcat.stub->Subscribe(context1.get(), SubscribeTo(session));
  auto reader2 =
      env.shadowcat.stub->Subscribe(context2.get(), SubscribeTo(session));
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  env.upstream->PushServerMessage(Note(1));
  v1::ServerMessage message;
  ASSERT_TRUE(reader1->Read(&message));
  EXPECT_EQ(message.message_json(), Note(1));
  ASSERT_TRUE(reader2->Read(&message));
  EXPECT_EQ(message.message_json(), Note(1));
  // The 409, then the one stream: two subscribers and open_server_stream
  // share it.
  EXPECT_EQ(RequestsOf(env, "GET").size(), 2u);
  EXPECT_EQ(MetricValue(Metrics(env), Transitions("get", "http_retry")), 1);
  EXPECT_EQ(Describe(env, session).server_stream(),
            v1::SERVER_STREAM_STATUS_OPEN);
  context1->TryCancel();
  context2->TryCancel();
}

// PX-02: two backends both use progress token "p1" on one session. Upstream
// each request carries a token of Shadowcat's, and progress is routed by that
// token whichever stream carries it (here the GET stream), mapped back to "p1".
TEST(ServerStreamTest, PX02_ProgressReachesOnlyItsOwnCallerWhateverTheStream) {
  Env env = Start(WithGetStream(), FastReconnect());
  std::string session = OpenWithServerStream(env);
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  auto with_p1 = [&](const std::string& handle) {
    v1::CallRequest request = EchoCall(session, handle);
    request.set_params_json(
        R"({"name":"echo","arguments":{"text":"x"},"_meta":{"progressToken":"p1"}})");
    return request;
  };
  const v1::CallRequest request_a = with_p1("a");
  const v1::CallRequest request_b = with_p1("b");
  for (int i = 0; i < 2; ++i) {
    ScriptedReply reply;
    reply.sse = true;
    reply.hold = "progress";
    env.upstream->ScriptReply("tools/call", reply);
  }
  StreamOutcome a, b;
  std::thread first([&] {
    auto context = Ctx();
    auto reader = env.shadowcat.stub->CallStream(context.get(), request_a);
    v1::CallStreamEvent event;
    while (reader->Read(&event)) a.events.push_back(event);
    a.status = reader->Finish();
  });
  RecordedRequest post_a, post_b;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &post_a));
  std::thread second([&] {
    auto context = Ctx();
    auto reader = env.shadowcat.stub->CallStream(context.get(), request_b);
    v1::CallStreamEvent event;
    while (reader->Read(&event)) b.events.push_back(event);
    b.status = reader->Finish();
  });
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &post_b));
  auto token_of = [](const RecordedRequest& post) {
    const size_t at = post.body.find("\"progressToken\":");
    if (at == std::string::npos) return std::string();
    const size_t begin = at + 16;
    return post.body.substr(begin, post.body.find('}', begin) - begin);
  };
  const std::string token_a = token_of(post_a);
  const std::string token_b = token_of(post_b);
  EXPECT_NE(token_a, token_b);
  EXPECT_NE(token_a, "\"p1\"");
  EXPECT_NE(token_b, "\"p1\"");
  auto progress = [](const std::string& token, int n) {
    return absl::StrCat(
        R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":)",
        token, R"(,"progress":)", n, "}}");
  };
  env.upstream->PushServerMessage(progress(token_b, 1));
  env.upstream->PushServerMessage(progress(token_a, 2));
  env.upstream->PushServerMessage(progress(token_b, 3));
  // Both arrived before the responses: a ping on the same stream answered
  // means the pushes before it were read.
  env.upstream->PushServerMessage(
      R"({"jsonrpc":"2.0","id":"barrier","method":"ping"})");
  ASSERT_TRUE(env.upstream->WaitForResponseTo("\"barrier\"", nullptr));
  env.upstream->Release("progress");
  first.join();
  second.join();
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  const std::string mapped = R"("progressToken":"p1")";
  std::vector<std::string> seen_a = NotesSeen(a), seen_b = NotesSeen(b);
  ASSERT_EQ(seen_a.size(), 1u);
  EXPECT_THAT(seen_a[0], HasSubstr(mapped));
  EXPECT_THAT(seen_a[0], HasSubstr(R"("progress":2)"));
  ASSERT_EQ(seen_b.size(), 2u);
  EXPECT_THAT(seen_b[0], HasSubstr(R"("progress":1)"));
  EXPECT_THAT(seen_b[1], HasSubstr(R"("progress":3)"));
  for (const std::string& json : seen_b) EXPECT_THAT(json, HasSubstr(mapped));
}

}  // namespace
}  // namespace shadowcat
