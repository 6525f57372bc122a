// Backpressure end to end (PX-06): slow gRPC readers make Shadowcat stop
// reading the upstream socket, so the upstream blocks on its writes; nothing
// is lost, duplicated or killed for being slow, memory stays bounded, and the
// session stays usable.

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SHADOWCAT_SANITIZED 1
// From sanitizer/allocator_interface.h (clang ships it, gcc only the symbol).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
// The same test, scaled to what an instrumented build moves in a few seconds.
constexpr int kEventsPerStream = 10'000;
#else
constexpr int kEventsPerStream = 100'000;
#endif
constexpr int kStreams = 16;
constexpr int kEventBytes = 1024;
constexpr absl::Duration kSlowPhase = absl::Seconds(2);

// The memory this process uses (Shadowcat, the fake upstream and the gRPC
// clients all live here), in KiB: its resident set size, or under a sanitizer
// the sanitizer allocator's live heap, since RSS there mostly measures the
// quarantine of freed blocks (256 MiB by design) and shadow memory.
int64_t RssKib() {
#ifdef SHADOWCAT_SANITIZED
  return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes() / 1024);
#endif
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      int64_t kib = 0;
      std::string number = line.substr(6, line.size() - 6 - 3);
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(number), &kib)) {
        return kib;
      }
    }
  }
  return -1;
}

// The "seq" a flood event carries in its params.
int SeqOf(const std::string& json) {
  const size_t at = json.find("\"seq\":");
  if (at == std::string::npos) return -1;
  int seq = -1;
  const size_t begin = at + 6;
  const size_t end = json.find_first_of(",}", begin);
  if (!absl::SimpleAtoi(json.substr(begin, end - begin), &seq)) return -1;
  return seq;
}

// A client whose HTTP/2 stream window stays at 64 KiB: by default gRPC grows
// it (BDP probing) to several MiB per stream, which would hide Shadowcat's own
// queue behind the client library's buffer for the first seconds.
std::unique_ptr<v1::Shadowcat::Stub> SmallWindowStub(Env& env) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
  return v1::Shadowcat::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", env.shadowcat.server->grpc_port()),
      grpc::InsecureChannelCredentials(), args));
}

double PausesSoFar(Env& env) {
  return MetricValue(Metrics(env), "shadowcat_backpressure_pauses_total");
}

TEST(BackpressureTest, PX06_SlowReadersPushBackOnTheUpstreamAndLoseNothing) {
  Config config;
  config.max_connections_per_session = kStreams + 2;
  config.stream_queue_bytes = 256 << 10;
  Env env = Start({}, config);
  std::string session = Open(env);
  std::unique_ptr<v1::Shadowcat::Stub> stub = SmallWindowStub(env);
  for (int i = 0; i < kStreams; ++i) {
    ScriptedReply reply;
    reply.flood_events = kEventsPerStream;
    reply.flood_event_bytes = kEventBytes;
    reply.send_buffer_bytes = 16 << 10;
    env.upstream->ScriptReply("tools/call", reply);
  }
  const int64_t rss_before = RssKib();
  std::atomic<int64_t> rss_peak{rss_before};
  std::atomic<bool> fast{false};
  std::atomic<int> done{0};
  std::vector<std::string> failures(kStreams);
  std::vector<std::thread> readers;
  for (int s = 0; s < kStreams; ++s) {
    readers.emplace_back([&, s] {
      v1::CallRequest request = EchoCall(session);
      auto context = Ctx(absl::Seconds(300));
      auto reader = stub->CallStream(context.get(), request);
      v1::CallStreamEvent event;
      int next = 0;
      bool response = false;
      while (reader->Read(&event)) {
        if (event.has_message()) {
          const int seq = SeqOf(event.message().message_json());
          if (seq != next) {
            failures[s] = absl::StrCat("expected seq ", next, ", got ", seq);
            break;
          }
          ++next;
          // 100 messages a second until the test says "fast".
          if (!fast.load()) absl::SleepFor(absl::Milliseconds(10));
        } else if (event.has_response()) {
          response = true;
        }
      }
      grpc::Status status = reader->Finish();
      if (failures[s].empty() && !status.ok()) {
        failures[s] = status.error_message();
      } else if (failures[s].empty() &&
                 (next != kEventsPerStream || !response)) {
        failures[s] =
            absl::StrCat("got ", next, " events, response ", response);
      }
      done.fetch_add(1);
    });
  }
  // Slow phase: Shadowcat must pause reading, and the upstream must then be
  // seen blocked on its writes; it stays slow a while longer after that.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (PausesSoFar(env) < 1 && absl::Now() < give_up) {
    rss_peak.store(std::max(rss_peak.load(), RssKib()));
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(PausesSoFar(env), 1) << "no stream paused in 60 s";
  ASSERT_TRUE(env.upstream->WaitForFloodBlocked(absl::Seconds(30)));
  const absl::Time slow_until = absl::Now() + kSlowPhase;
  while (absl::Now() < slow_until) {
    rss_peak.store(std::max(rss_peak.load(), RssKib()));
    absl::SleepFor(absl::Milliseconds(50));
  }
  // Paused streams show as such.
  v1::GetSessionRequest get;
  get.set_session_id(session);
  v1::SessionInfo info;
  ASSERT_TRUE(env.shadowcat.stub->GetSession(Ctx().get(), get, &info).ok());
  int paused = 0;
  for (const v1::StreamInfo& stream : info.streams()) paused += stream.paused();
  EXPECT_GT(paused, 0);
  fast.store(true);
  while (done.load() < kStreams) {
    rss_peak.store(std::max(rss_peak.load(), RssKib()));
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (std::thread& t : readers) t.join();
  for (int s = 0; s < kStreams; ++s) EXPECT_EQ(failures[s], "") << s;

  // Paused and resumed, never killed.
  const std::string metrics = Metrics(env);
  EXPECT_GE(MetricValue(metrics, "shadowcat_backpressure_resumes_total"), 1);
  EXPECT_GT(env.upstream->flood_stats().writes_waited_over_10ms, 0u);
  // Bounded memory: the whole process (sidecar, fake upstream, 16 gRPC
  // clients) grew by well under what one stream's data would take
  // (100 MiB), however slowly it was read.
  const int64_t growth_mib = (rss_peak.load() - rss_before) / 1024;
  RecordProperty("rss_growth_mib", static_cast<int>(growth_mib));
  EXPECT_LT(growth_mib, 96) << "RSS grew by " << growth_mib << " MiB";
  // And the session serves an echo at once.
  v1::CallResponse echo;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &echo).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

// PX-06: a reader that stops reading is paused on, not killed, until
// --stream_stall_timeout passes; then its call alone fails, clearly, the
// upstream is told that the request was given up (TO-01), and the session
// goes on.
TEST(BackpressureTest, PX06_AReaderThatStopsFailsOnlyAfterTheStallTimeout) {
  Config config;
  config.stream_queue_bytes = 16 << 10;
  config.stream_stall_timeout = absl::Seconds(2);
  Env env = Start({}, config);
  std::string session = Open(env);
  std::unique_ptr<v1::Shadowcat::Stub> stub = SmallWindowStub(env);
  constexpr int kEvents = 20'000;
  ScriptedReply reply;
  reply.flood_events = kEvents;
  reply.flood_event_bytes = kEventBytes;
  reply.send_buffer_bytes = 16 << 10;
  env.upstream->ScriptReply("tools/call", reply);
  auto context = Ctx(absl::Seconds(60));
  auto reader = stub->CallStream(context.get(), EchoCall(session));
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));  // `started`; then nothing is read
  const std::string stalled =
      "shadowcat_upstream_stream_transitions_total{kind=\"post\",reason="
      "\"stalled\"}";
  ASSERT_TRUE(
      Eventually([&] { return PausesSoFar(env) >= 1; }, absl::Seconds(30)));
  // Paused a while: still alive.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(MetricValue(Metrics(env), stalled), 0);
  ASSERT_TRUE(
      Eventually([&] { return MetricValue(Metrics(env), stalled) == 1; },
                 absl::Seconds(30)));
  RecordedRequest call, notice;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &call));
  ASSERT_TRUE(env.upstream->WaitForRpc("notifications/cancelled", &notice));
  EXPECT_THAT(notice.body,
              testing::HasSubstr(absl::StrCat("\"requestId\":", call.rpc_id)));
  // What was queued still arrives, in order, then the error.
  int next = 0;
  while (reader->Read(&event)) {
    if (event.has_message()) {
      EXPECT_EQ(SeqOf(event.message().message_json()), next);
      ++next;
    }
  }
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              testing::HasSubstr("--stream_stall_timeout"));
  EXPECT_GT(next, 0);
  EXPECT_LT(next, kEvents);
  v1::CallResponse echo;
  EXPECT_TRUE(Call(env, session, "tools/call", kEchoParams, &echo).ok());
}

// PX-06: the queue bound is a watermark, not a size limit: a message larger
// than the whole queue still passes to a reader that reads.
TEST(BackpressureTest, PX06_MessagesLargerThanTheQueuePassToAFastReader) {
  Config config;
  config.stream_queue_bytes = 4 << 10;
  Env env = Start({}, config);
  std::string session = Open(env);
  const std::string blob(256 << 10, 'x');
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {absl::StrCat(
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":")",
      blob, R"("}})")};
  reply.result_json = absl::StrCat(R"({"blob":")", blob, R"("})");
  env.upstream->ScriptReply("tools/call", reply);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->CallStream(context.get(), EchoCall(session));
  std::vector<v1::CallStreamEvent> events;
  v1::CallStreamEvent event;
  while (reader->Read(&event)) events.push_back(event);
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(events.size(), 3u);  // started, the message, the response
  EXPECT_EQ(events[1].message().message_json(), reply.messages_before[0]);
  EXPECT_EQ(events[2].response().result_json(), *reply.result_json);
}

}  // namespace
}  // namespace shadowcat
