// Figures for streams through Shadowcat, against the fault-injecting fake on
// loopback, printed beside their baselines (a driver, not a test; build with -c
// opt):
//   resume_ms: time a backend waits between the last event before an upstream
//     drop and the first event after the resume (GET + Last-Event-ID), with
//     the server's retry: and with Shadowcat's own backoff;
//   events_per_s: 1 KiB events through CallStream to fast readers, 1 and 16
//     streams, beside the same flood read straight from the fake over HTTP by
//     Shadowcat's own HTTP client (the upstream's floor in the same run).
//
//   bazel run -c opt //tests/bench:stream_figures [-- OUT.json]
// (the figures as bench_report.h JSON; scripts/bench.sh merges them into its
// own)

#include <algorithm>
#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/http/http_client.h"
#include "tests/bench/bench_report.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

std::string Note(int i) {
  return absl::StrCat(
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":)",
      i, "}}");
}

// Median over `rounds` of the gap around one drop.
double ResumeGapMs(std::optional<int> retry_ms, int rounds) {
  Config config;  // the defaults: 250 ms base, 25 % jitter
  Env env = Start({}, config);
  std::string session = Open(env);
  std::vector<double> gaps;
  for (int r = 0; r < rounds; ++r) {
    ScriptedReply reply;
    reply.event_ids = true;
    reply.retry_ms = retry_ms;
    for (int i = 0; i < 4; ++i) reply.messages_before.push_back(Note(i));
    reply.drop_after_events = 2;
    env.upstream->ScriptReply("tools/call", reply);
    v1::CallRequest request = EchoCall(session);
    auto context = Ctx(absl::Seconds(30));
    auto reader = env.shadowcat.stub->CallStream(context.get(), request);
    v1::CallStreamEvent event;
    int messages = 0;
    absl::Time before_drop;
    while (reader->Read(&event)) {
      if (!event.has_message()) continue;
      ++messages;
      if (messages == 2) before_drop = absl::Now();
      if (messages == 3) {
        gaps.push_back(absl::ToDoubleMilliseconds(absl::Now() - before_drop));
      }
    }
    if (!reader->Finish().ok()) std::cerr << "resume round failed\n";
  }
  std::sort(gaps.begin(), gaps.end());
  return gaps.empty() ? -1 : gaps[gaps.size() / 2];
}

double CallStreamEventsPerSecond(int streams, int events) {
  Config config;
  config.max_connections_per_session = streams + 2;
  Env env = Start({}, config);
  std::string session = Open(env);
  for (int s = 0; s < streams; ++s) {
    ScriptedReply reply;
    reply.flood_events = events;
    reply.flood_event_bytes = 1024;
    env.upstream->ScriptReply("tools/call", reply);
  }
  std::atomic<int64_t> received{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> readers;
  for (int s = 0; s < streams; ++s) {
    readers.emplace_back([&] {
      v1::CallRequest request = EchoCall(session);
      auto context = Ctx(absl::Seconds(300));
      auto reader = env.shadowcat.stub->CallStream(context.get(), request);
      v1::CallStreamEvent event;
      int64_t n = 0;
      while (reader->Read(&event)) n += event.has_message();
      received.fetch_add(n);
      reader->Finish();
    });
  }
  for (std::thread& t : readers) t.join();
  return received.load() / absl::ToDoubleSeconds(absl::Now() - start);
}

// The same floods read by the HTTP client alone: what the upstream and the
// socket deliver without Shadowcat's session, parser and gRPC in the way.
double DirectEventsPerSecond(int streams, int events) {
  auto upstream = FakeMcpServer::Start({});
  if (!upstream.ok()) return -1;
  boost::asio::io_context ioc;
  HttpClient http(ioc, HttpClientOptions{});
  for (int s = 0; s < streams; ++s) {
    ScriptedReply reply;
    reply.flood_events = events;
    reply.flood_event_bytes = 1024;
    (*upstream)->ScriptReply("tools/call", reply);
  }
  std::atomic<int> done{0};
  std::atomic<int64_t> bytes{0};
  const absl::Time start = absl::Now();
  for (int s = 0; s < streams; ++s) {
    HttpRequest request;
    request.method = "POST";
    request.url = *ParseUrl((*upstream)->url());
    request.headers = {{"Content-Type", "application/json"},
                       {"Accept", "application/json, text/event-stream"}};
    request.body = absl::StrCat(
        R"({"jsonrpc":"2.0","id":)", s + 1,
        R"(,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}})");
    HttpHandlers handlers;
    handlers.on_head = [](const HttpResponseHead&) {};
    handlers.on_body = [&](absl::string_view chunk) {
      bytes.fetch_add(chunk.size());
    };
    handlers.on_done = [&](absl::Status) { done.fetch_add(1); };
    http.Start(ioc.get_executor(), std::move(request), std::move(handlers));
  }
  while (done.load() < streams) ioc.run_one();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // Each event is about 1 KiB of data plus its SSE framing.
  return (static_cast<double>(bytes.load()) / 1080.0) / seconds;
}

}  // namespace
}  // namespace shadowcat

int main(int argc, char** argv) {
  using namespace shadowcat;
  BenchReport report;
  // The server's retry: and, without one, Shadowcat's base delay: what the
  // gap would be with nothing else in the way.
  Figure with_retry{"resume/server_retry_300ms/gap_ms", ResumeGapMs(300, 7),
                    "ms", "server_retry", 300};
  report.Add(with_retry);
  Figure backoff{"resume/own_backoff/gap_ms", ResumeGapMs(std::nullopt, 7),
                 "ms", "base_delay",
                 absl::ToDoubleMilliseconds(Config{}.reconnect_base_delay)};
  report.Add(backoff);
  for (int streams : {1, 16}) {
    const int events = streams == 1 ? 200'000 : 20'000;
    const double direct = DirectEventsPerSecond(streams, events);
    const double through = CallStreamEventsPerSecond(streams, events);
    report.Add(
        Figure{absl::StrCat("stream/inprocess_1k/s", streams, "/events_per_s"),
               through, "events/s", "direct_http", direct, Better::kHigher});
  }
  if (argc > 1) {
    absl::Status written = report.WriteJson(argv[1]);
    if (!written.ok()) {
      std::cerr << written << "\n";
      return 1;
    }
  }
  return 0;
}
