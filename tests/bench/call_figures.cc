// The benchmark driver of scripts/bench.sh: Shadowcat runs as its own process
// (bazel-bin/server/shadowcat), so its CPU time and context switches are read
// from /proc apart from the load's; every figure is printed beside a baseline
// measured in the same run, and all are written as JSON (bench_report.h).
//   calls: tools/call latency p50/p95/p99 and calls/s at 1, 8 and 32 callers
//     against the demo upstream (fast, C++) and the TypeScript SDK server in
//     SSE and JSON modes; beside the direct HTTP/1.1 keep-alive call and a
//     minimal gRPC server (floor_service.h); Shadowcat's CPU and context
//     switches per call, new upstream TCP connections per call;
//   streams: events/s through CallStream and through Subscribe on 1 and 16
//     streams from a C++ flood upstream (a POST's SSE stream, the standalone
//     GET stream), beside the gRPC streaming floor;
//   sessions: start-to-ready (/readyz 200) and RSS per idle session;
//   memory: resident KB per session with an open standalone GET stream and
//     per active CallStream, at each --sessions count, against an upstream
//     that holds every stream open (hold_upstream.h); the sizing section of
//     docs/operations.md is derived from them.
// Medians over --rounds; the baselines are measured in each round beside the
// figure, so a busy machine moves both.
//
// The upstreams and the floor run as child processes of this same binary
// (--role=upstream|flood|floor), so none shares a process with the load.
//
//   bazel run -c opt //tests/bench:call_figures -- --out=$PWD/bench.json

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "grpcpp/grpcpp.h"
#include "proto/shadowcat/v1/shadowcat.grpc.pb.h"
#include "server/demo_upstream.h"
#include "tests/bench/bench_report.h"
#include "tests/bench/direct_mcp_client.h"
#include "tests/bench/floor_service.h"
#include "tests/bench/hold_upstream.h"
#include "tests/bench/proc_sample.h"
#include "tests/fakes/blocking_http_client.h"
#include "tests/fakes/child_process.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/interop/interop_paths.h"
#include "tests/interop/node_peer.h"

ABSL_FLAG(std::string, role, "",
          "Internal: upstream, flood, floor or hold runs that server and "
          "prints LISTENING <port>.");
ABSL_FLAG(std::vector<std::string>, figures,
          (std::vector<std::string>{"calls", "streams", "sessions", "memory"}),
          "Which groups of figures to measure.");
ABSL_FLAG(std::string, out, "bench-results.json", "Where the JSON goes.");
ABSL_FLAG(int, rounds, 3, "Rounds; each figure is the median.");
ABSL_FLAG(int, calls, 4000, "Measured calls per round (all callers).");
ABSL_FLAG(std::vector<std::string>, callers,
          (std::vector<std::string>{"1", "8", "32"}), "Concurrent callers.");
ABSL_FLAG(bool, sdk, true, "Also against the TypeScript SDK server (node).");
ABSL_FLAG(int, stream_events, 30000, "Events per stream per round.");
ABSL_FLAG(int, event_bytes, 200, "Bytes of JSON per streamed event.");
ABSL_FLAG(std::vector<std::string>, sessions,
          (std::vector<std::string>{"1000", "10000"}),
          "Session counts for the RSS figures (sessions and memory).");
ABSL_FLAG(std::string, shadowcat, "",
          "The shadowcat binary; default: the runfile server/shadowcat.");
ABSL_FLAG(std::vector<std::string>, shadowcat_args, {},
          "Extra flags for shadowcat, e.g. --shadowcat_args=--io_threads=1 "
          "(comma-separated), to compare configurations.");

namespace shadowcat {
namespace {

constexpr char kEchoParams[] = R"({"name":"echo","arguments":{"text":"hi"}})";

std::string EchoBody(int id) {
  return absl::StrCat(R"({"jsonrpc":"2.0","id":)", id,
                      R"(,"method":"tools/call","params":)", kEchoParams, "}");
}

// --- Roles: the servers the driver starts as its children ---

int ServeUntilKilled(uint16_t port) {
  std::cout << "LISTENING " << port << std::endl;
  pause();
  return 0;
}

// Serves the upstream `start` makes on an io_context run by two threads.
template <typename Upstream>
int ServeOnTwoThreads(
    const std::function<absl::StatusOr<std::unique_ptr<Upstream>>(
        boost::asio::io_context&)>& start) {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  absl::StatusOr<std::unique_ptr<Upstream>> upstream = start(ioc);
  if (!upstream.ok()) {
    std::cerr << upstream.status() << "\n";
    return 1;
  }
  std::thread([&ioc] { ioc.run(); }).detach();
  std::thread([&ioc] { ioc.run(); }).detach();
  return ServeUntilKilled((*upstream)->port());
}

int RunUpstreamRole() {
  return ServeOnTwoThreads<DemoUpstream>([](boost::asio::io_context& ioc) {
    DemoUpstreamOptions options;
    options.max_sessions = 20000;
    return DemoUpstream::Start(ioc, "127.0.0.1", 0, options);
  });
}

int RunFloodRole() {
  auto upstream = FakeMcpServer::Start({});
  if (!upstream.ok()) return 1;
  // One flood per CallStream the driver may make.
  for (int i = 0; i < 2000; ++i) {
    ScriptedReply reply;
    reply.flood_events = absl::GetFlag(FLAGS_stream_events);
    reply.flood_event_bytes = absl::GetFlag(FLAGS_event_bytes);
    (*upstream)->ScriptReply("tools/call", reply);
  }
  // And one per standalone GET (Subscribe's figure): twice what a reader
  // takes, so the stream is still flowing when the reader stops.
  for (int i = 0; i < 2000; ++i) {
    ScriptedReply reply;
    reply.flood_events = 2 * absl::GetFlag(FLAGS_stream_events);
    reply.flood_event_bytes = absl::GetFlag(FLAGS_event_bytes);
    (*upstream)->ScriptReply("GET", reply);
  }
  return ServeUntilKilled((*upstream)->port());
}

int RunHoldRole() {
  return ServeOnTwoThreads<HoldUpstream>(
      [](boost::asio::io_context& ioc) { return HoldUpstream::Start(ioc); });
}

int RunFloorRole() {
  FloorService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  return ServeUntilKilled(static_cast<uint16_t>(port));
}

// --- Children ---

struct Child {
  std::unique_ptr<ChildProcess> process;
  uint16_t port = 0;
};

absl::StatusOr<Child> StartRole(const std::string& role) {
  std::vector<std::string> argv = {
      "/proc/self/exe", absl::StrCat("--role=", role),
      absl::StrCat("--stream_events=", absl::GetFlag(FLAGS_stream_events)),
      absl::StrCat("--event_bytes=", absl::GetFlag(FLAGS_event_bytes))};
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) argv[0] = std::string(self, n);
  ChildProcessOptions options;
  options.log_prefix = absl::StrCat("[", role, "] ");
  options.term_grace = absl::Seconds(2);
  auto process = ChildProcess::Start(argv, options);
  if (!process.ok()) return process.status();
  Child child{*std::move(process)};
  auto line = child.process->WaitForLine("LISTENING ", absl::Seconds(30));
  if (!line.ok()) return line.status();
  uint32_t port = 0;
  if (!absl::SimpleAtoi(line->substr(10), &port)) {
    return absl::InternalError(*line);
  }
  child.port = static_cast<uint16_t>(port);
  return child;
}

struct Shadowcat {
  std::unique_ptr<ChildProcess> process;
  uint16_t admin_port = 0;
  std::unique_ptr<v1::Shadowcat::Stub> stub;
  double start_to_ready_ms = 0;
};

absl::StatusOr<std::string> ShadowcatBinary() {
  std::string path = absl::GetFlag(FLAGS_shadowcat);
  if (!path.empty()) return path;
  return Runfile("server/shadowcat");
}

absl::StatusOr<Shadowcat> StartShadowcat(
    const std::vector<std::string>& upstreams) {
  absl::StatusOr<std::string> binary = ShadowcatBinary();
  if (!binary.ok()) return binary.status();
  Shadowcat shadowcat;
  const uint16_t grpc_port = FreeLoopbackPort();
  shadowcat.admin_port = FreeLoopbackPort();
  std::vector<std::string> argv = {
      *binary,
      absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port),
      absl::StrCat("--admin_listen=127.0.0.1:", shadowcat.admin_port),
      absl::StrCat("--allowed_upstreams=", absl::StrJoin(upstreams, ",")),
      "--max_sessions=20000",
      "--max_connections_per_session=64",
      "--max_connections_total=100000"};
  for (const std::string& arg : absl::GetFlag(FLAGS_shadowcat_args)) {
    argv.push_back(arg);
  }
  ChildProcessOptions options;
  options.term_grace = absl::Seconds(5);
  const absl::Time start = absl::Now();
  auto process = ChildProcess::Start(argv, options);
  if (!process.ok()) return process.status();
  shadowcat.process = *std::move(process);
  while (true) {
    TestHttpRequest request;
    request.method = "GET";
    request.target = "/readyz";
    request.timeout = absl::Seconds(1);
    auto response = SendTestHttpRequest(shadowcat.admin_port, request);
    if (response.ok() && response->status == 200) break;
    if (absl::Now() - start > absl::Seconds(30)) {
      return absl::DeadlineExceededError("shadowcat never became ready");
    }
    absl::SleepFor(absl::Microseconds(500));
  }
  shadowcat.start_to_ready_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  shadowcat.stub = v1::Shadowcat::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                          grpc::InsecureChannelCredentials()));
  return shadowcat;
}

absl::StatusOr<std::string> OpenSession(v1::Shadowcat::Stub& stub,
                                        const std::string& url,
                                        bool server_stream = false) {
  v1::OpenSessionRequest request;
  request.set_upstream_url(url);
  request.mutable_client_info()->set_name("bench");
  request.mutable_options()->set_open_server_stream(server_stream);
  v1::OpenSessionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  grpc::Status status = stub.OpenSession(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("OpenSession: ", status.error_message()));
  }
  return response.session_id();
}

// --- Load ---

// One caller's next call; false when it failed.
using CallFn = std::function<bool()>;

struct LoadResult {
  double p50_us = 0, p95_us = 0, p99_us = 0, calls_per_s = 0;
  double cpu_us_per_call = 0, switches_per_call = 0, new_conns_per_call = 0;
  int failures = 0;
};

// Runs `calls` calls over `callers` threads (each made by `make_caller`, then
// warmed up), sampling `pid` (0: none) and the connections to `conn_port`
// (0: none) around the measured part only.
LoadResult RunLoad(int callers, int calls,
                   const std::function<CallFn(int)>& make_caller, pid_t pid,
                   uint16_t conn_port = 0) {
  const int per_caller = std::max(1, calls / callers);
  const int warmup = std::max(2, per_caller / 10);
  std::atomic<int> ready{0};
  std::atomic<int> failures{0};
  absl::Notification go;
  std::vector<std::vector<double>> latencies(callers);
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&, i] {
      CallFn call = make_caller(i);
      for (int w = 0; w < warmup; ++w) {
        if (!call()) failures.fetch_add(1);
      }
      ready.fetch_add(1);
      go.WaitForNotification();
      latencies[i].reserve(per_caller);
      for (int c = 0; c < per_caller; ++c) {
        const absl::Time t0 = absl::Now();
        if (!call()) failures.fetch_add(1);
        latencies[i].push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      }
    });
  }
  while (ready.load() < callers) absl::SleepFor(absl::Milliseconds(1));
  failures.store(0);
  const ProcSample before = pid != 0 ? SampleProcess(pid) : ProcSample{};
  const std::set<uint16_t> conns_before =
      conn_port != 0 ? TcpClientPorts(conn_port) : std::set<uint16_t>{};
  const absl::Time start = absl::Now();
  go.Notify();
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const ProcSample after = pid != 0 ? SampleProcess(pid) : ProcSample{};
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  const double n = static_cast<double>(all.size());
  LoadResult result;
  result.failures = failures.load();
  result.p50_us = Quantile(all, 0.50);
  result.p95_us = Quantile(all, 0.95);
  result.p99_us = Quantile(all, 0.99);
  result.calls_per_s = n / seconds;
  result.cpu_us_per_call = (after.cpu_us - before.cpu_us) / n;
  result.switches_per_call =
      static_cast<double>(after.switches() - before.switches()) / n;
  if (conn_port != 0) {
    int fresh = 0;
    for (uint16_t port : TcpClientPorts(conn_port)) {
      fresh += conns_before.count(port) == 0;
    }
    result.new_conns_per_call = fresh / n;
  }
  return result;
}

// Medians of each field over rounds.
LoadResult MedianOf(const std::vector<LoadResult>& rounds) {
  auto median = [&](double LoadResult::*field) {
    std::vector<double> values;
    for (const LoadResult& r : rounds) values.push_back(r.*field);
    return Median(values);
  };
  LoadResult m;
  for (double LoadResult::*field :
       {&LoadResult::p50_us, &LoadResult::p95_us, &LoadResult::p99_us,
        &LoadResult::calls_per_s, &LoadResult::cpu_us_per_call,
        &LoadResult::switches_per_call, &LoadResult::new_conns_per_call}) {
    m.*field = median(field);
  }
  for (const LoadResult& r : rounds) m.failures += r.failures;
  return m;
}

CallFn GrpcCaller(v1::Shadowcat::Stub* stub, std::string session) {
  v1::CallRequest request;
  request.set_session_id(std::move(session));
  request.set_method("tools/call");
  request.set_params_json(kEchoParams);
  return [stub, request] {
    grpc::ClientContext context;
    v1::CallResponse response;
    return stub->Call(&context, request, &response).ok() &&
           response.has_result_json();
  };
}

CallFn DirectCaller(uint16_t port, const std::string& session) {
  auto client = DirectMcpClient::Connect(port, "/mcp");
  if (!client.ok()) return [] { return false; };
  (*client)->set_session_id(session);
  std::shared_ptr<DirectMcpClient> shared = *std::move(client);
  auto id = std::make_shared<int>(0);
  return [shared, id] { return shared->Post(EchoBody(++*id)).ok(); };
}

struct CallUpstream {
  std::string name;  // "demo", "sdk_sse", "sdk_json"
  uint16_t port = 0;
  pid_t pid = 0;
};

std::string UrlOf(const CallUpstream& upstream) {
  return absl::StrCat("http://127.0.0.1:", upstream.port, "/mcp");
}

void AddRatio(BenchReport& report, std::string name, double value,
              std::string unit, std::string baseline_name, double baseline,
              Better better = Better::kLower) {
  report.Add(Figure{std::move(name), value, std::move(unit),
                    std::move(baseline_name), baseline, better});
}

absl::Status CallFigures(BenchReport& report, Shadowcat& shadowcat,
                         v1::Shadowcat::Stub& floor, pid_t floor_pid,
                         const CallUpstream& upstream) {
  absl::StatusOr<std::string> session =
      OpenSession(*shadowcat.stub, UrlOf(upstream));
  if (!session.ok()) return session.status();
  auto direct_init = DirectMcpClient::Connect(upstream.port, "/mcp");
  if (!direct_init.ok()) return direct_init.status();
  if (absl::Status s = (*direct_init)->Initialize(); !s.ok()) return s;
  const std::string direct_session = (*direct_init)->session_id();
  const pid_t self = getpid();
  for (const std::string& callers_text : absl::GetFlag(FLAGS_callers)) {
    int callers = 1;
    if (!absl::SimpleAtoi(callers_text, &callers) || callers < 1) continue;
    std::vector<LoadResult> floor_rounds, direct_rounds, through_rounds;
    const int calls = absl::GetFlag(FLAGS_calls);
    for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
      floor_rounds.push_back(RunLoad(
          callers, calls, [&](int) { return GrpcCaller(&floor, "floor"); },
          floor_pid));
      // The direct client's own CPU: this process runs nothing else then.
      direct_rounds.push_back(RunLoad(
          callers, calls,
          [&](int) { return DirectCaller(upstream.port, direct_session); },
          self));
      through_rounds.push_back(RunLoad(
          callers, calls,
          [&](int) { return GrpcCaller(shadowcat.stub.get(), *session); },
          shadowcat.process->pid(), upstream.port));
    }
    const LoadResult floor_m = MedianOf(floor_rounds);
    const LoadResult direct = MedianOf(direct_rounds);
    const LoadResult through = MedianOf(through_rounds);
    const std::string p =
        absl::StrCat("call/", upstream.name, "/c", callers, "/");
    if (through.failures + direct.failures + floor_m.failures > 0) {
      std::cerr << p << " failures: shadowcat " << through.failures
                << ", direct " << direct.failures << ", floor "
                << floor_m.failures << "\n";
    }
    AddRatio(report, p + "p50_us", through.p50_us, "us", "direct+floor",
             direct.p50_us + floor_m.p50_us);
    AddRatio(report, p + "p95_us", through.p95_us, "us", "direct+floor",
             direct.p95_us + floor_m.p95_us);
    AddRatio(report, p + "p99_us", through.p99_us, "us", "direct+floor",
             direct.p99_us + floor_m.p99_us);
    AddRatio(report, p + "p50_vs_direct_us", through.p50_us, "us", "direct",
             direct.p50_us);
    AddRatio(report, p + "p95_vs_direct_us", through.p95_us, "us", "direct",
             direct.p95_us);
    AddRatio(report, p + "calls_per_s", through.calls_per_s, "calls/s",
             "grpc_floor", floor_m.calls_per_s, Better::kHigher);
    AddRatio(report, p + "calls_per_s_vs_direct", through.calls_per_s,
             "calls/s", "direct", direct.calls_per_s, Better::kHigher);
    AddRatio(report, p + "cpu_us_per_call", through.cpu_us_per_call, "us",
             "floor+direct", floor_m.cpu_us_per_call + direct.cpu_us_per_call);
    AddRatio(report, p + "ctx_switches_per_call", through.switches_per_call,
             "switches", "grpc_floor", floor_m.switches_per_call);
    report.Add(p + "new_upstream_conns_per_call", through.new_conns_per_call,
               "conns");
    report.Add(p + "failures", through.failures, "calls");
  }
  return absl::OkStatus();
}

// Events/s through CallStream on `streams` streams at once, with `stub` and
// `session` either Shadowcat's (against the flood upstream) or the floor's.
double StreamEventsPerSecond(v1::Shadowcat::Stub& stub,
                             const std::string& session, int streams,
                             bool is_floor) {
  std::atomic<int64_t> received{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> readers;
  for (int s = 0; s < streams; ++s) {
    readers.emplace_back([&] {
      v1::CallRequest request;
      request.set_session_id(session);
      request.set_method("tools/call");
      if (is_floor) {  // the floor's flood: count and size (floor_service.h)
        request.set_params_json(
            std::string(absl::GetFlag(FLAGS_event_bytes), ' '));
        request.set_timeout_ms(absl::GetFlag(FLAGS_stream_events));
      } else {  // the flood upstream scripts its own
        request.set_params_json(kEchoParams);
      }
      grpc::ClientContext context;
      auto reader = stub.CallStream(&context, request);
      v1::CallStreamEvent event;
      int64_t n = 0;
      while (reader->Read(&event)) n += event.has_message();
      received.fetch_add(n);
      grpc::Status status = reader->Finish();
      if (!status.ok())
        std::cerr << "stream: " << status.error_message() << "\n";
    });
  }
  for (std::thread& t : readers) t.join();
  return received.load() / absl::ToDoubleSeconds(absl::Now() - start);
}

// Events/s through Subscribe on one stream per entry of `sessions`: each
// reader takes --stream_events messages, then cancels. Shadowcat's sessions
// are on the flood upstream, whose GET streams flood; the floor's are
// "COUNT:BYTES" specs (floor_service.h).
double SubscribeEventsPerSecond(v1::Shadowcat::Stub& stub,
                                const std::vector<std::string>& sessions) {
  const int64_t want = absl::GetFlag(FLAGS_stream_events);
  std::atomic<int64_t> received{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> readers;
  for (const std::string& session : sessions) {
    readers.emplace_back([&stub, &received, &session, want] {
      v1::SubscribeRequest request;
      request.set_session_id(session);
      grpc::ClientContext context;
      auto reader = stub.Subscribe(&context, request);
      v1::ServerMessage message;
      int64_t n = 0;
      while (n < want && reader->Read(&message)) ++n;
      received.fetch_add(n);
      context.TryCancel();
      reader->Finish();
      if (n < want) std::cerr << "subscribe: " << n << " of " << want << "\n";
    });
  }
  for (std::thread& t : readers) t.join();
  return received.load() / absl::ToDoubleSeconds(absl::Now() - start);
}

void CloseSession(v1::Shadowcat::Stub& stub, const std::string& session) {
  v1::CloseSessionRequest request;
  request.set_session_id(session);
  v1::CloseSessionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::Status status = stub.CloseSession(&context, request, &response);
  if (!status.ok())
    std::cerr << "CloseSession: " << status.error_message() << "\n";
}

absl::Status SubscribeFigures(BenchReport& report, Shadowcat& shadowcat,
                              v1::Shadowcat::Stub& floor, uint16_t flood_port) {
  const std::string url = absl::StrCat("http://127.0.0.1:", flood_port, "/mcp");
  const std::string floor_spec =
      absl::StrCat(absl::GetFlag(FLAGS_stream_events), ":",
                   absl::GetFlag(FLAGS_event_bytes));
  for (int streams : {1, 16}) {
    std::vector<double> floor_rates, through_rates;
    for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
      floor_rates.push_back(SubscribeEventsPerSecond(
          floor, std::vector<std::string>(streams, floor_spec)));
      // Fresh sessions each round, with no GET until Subscribe opens it, so
      // every flooded event has its reader; closed after, so no flood goes on
      // behind the next round.
      std::vector<std::string> sessions;
      for (int i = 0; i < streams; ++i) {
        absl::StatusOr<std::string> session =
            OpenSession(*shadowcat.stub, url, /*server_stream=*/false);
        if (!session.ok()) return session.status();
        sessions.push_back(*std::move(session));
      }
      through_rates.push_back(
          SubscribeEventsPerSecond(*shadowcat.stub, sessions));
      for (const std::string& session : sessions) {
        CloseSession(*shadowcat.stub, session);
      }
    }
    AddRatio(report,
             absl::StrCat("stream/subscribe/s", streams, "/events_per_s"),
             Median(through_rates), "events/s", "grpc_stream_floor",
             Median(floor_rates), Better::kHigher);
  }
  return absl::OkStatus();
}

absl::Status StreamFigures(BenchReport& report, Shadowcat& shadowcat,
                           v1::Shadowcat::Stub& floor, uint16_t flood_port) {
  absl::StatusOr<std::string> session = OpenSession(
      *shadowcat.stub, absl::StrCat("http://127.0.0.1:", flood_port, "/mcp"));
  if (!session.ok()) return session.status();
  for (int streams : {1, 16}) {
    std::vector<double> floor_rates, through_rates;
    for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
      floor_rates.push_back(StreamEventsPerSecond(floor, "", streams, true));
      through_rates.push_back(
          StreamEventsPerSecond(*shadowcat.stub, *session, streams, false));
    }
    AddRatio(report,
             absl::StrCat("stream/callstream/s", streams, "/events_per_s"),
             Median(through_rates), "events/s", "grpc_stream_floor",
             Median(floor_rates), Better::kHigher);
  }
  return SubscribeFigures(report, shadowcat, floor, flood_port);
}

// Start-to-ready of a fresh Shadowcat, and its RSS per idle session.
absl::Status SessionFigures(BenchReport& report, const std::string& url) {
  std::vector<int> counts;
  for (const std::string& text : absl::GetFlag(FLAGS_sessions)) {
    int n = 0;
    if (absl::SimpleAtoi(text, &n) && n > 0) counts.push_back(n);
  }
  std::vector<double> ready_ms;
  for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
    absl::StatusOr<Shadowcat> fresh = StartShadowcat({url});
    if (!fresh.ok()) return fresh.status();
    ready_ms.push_back(fresh->start_to_ready_ms);
  }
  report.Add("start/ready_ms", Median(ready_ms), "ms");
  absl::StatusOr<Shadowcat> shadowcat = StartShadowcat({url});
  if (!shadowcat.ok()) return shadowcat.status();
  const pid_t pid = shadowcat->process->pid();
  const ProcSample empty = SampleProcess(pid);
  report.Add("sessions/rss_empty_mb", empty.rss_kb / 1024.0, "MB");
  int open = 0;
  for (int target : counts) {
    for (; open < target; ++open) {
      absl::StatusOr<std::string> session = OpenSession(*shadowcat->stub, url);
      if (!session.ok()) return session.status();
    }
    const ProcSample sample = SampleProcess(pid);
    report.Add(absl::StrCat("sessions/idle", target, "/rss_mb"),
               sample.rss_kb / 1024.0, "MB");
    report.Add(absl::StrCat("sessions/idle", target, "/kb_per_session"),
               static_cast<double>(sample.rss_kb - empty.rss_kb) / target,
               "KB");
  }
  return absl::OkStatus();
}

// The value of the exposition line `series` (name and labels exactly as
// Shadowcat prints them) on /metrics; -1 when absent or unreadable.
double MetricValue(uint16_t admin_port, absl::string_view series) {
  TestHttpRequest request;
  request.method = "GET";
  request.target = "/metrics";
  request.timeout = absl::Seconds(5);
  auto response = SendTestHttpRequest(admin_port, request);
  if (!response.ok() || response->status != 200) return -1;
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " "))
      continue;
    double value = 0;
    return absl::SimpleAtod(line, &value) ? value : -1;
  }
  return -1;
}

// Waits (up to 120 s) until `series` reads at least `want`.
absl::Status WaitForMetric(uint16_t admin_port, absl::string_view series,
                           double want) {
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  double value = -1;
  while ((value = MetricValue(admin_port, series)) < want) {
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat(series, " is ", value, ", never ", want));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::OkStatus();
}

// CallStreams started and left open (never read): each holds a gRPC stream,
// a pending call in its session and an upstream SSE connection.
class OpenCallStreams {
 public:
  explicit OpenCallStreams(v1::Shadowcat::Stub& stub) : stub_(stub) {}
  ~OpenCallStreams() {
    for (auto& call : calls_) call->context.TryCancel();
    for (auto& call : calls_) call->reader->Finish(&call->status, call.get());
    void* tag = nullptr;
    bool ok = false;
    for (size_t i = 0; i < calls_.size() * 2; ++i) cq_.Next(&tag, &ok);
    cq_.Shutdown();
    while (cq_.Next(&tag, &ok)) {
    }
  }

  void Start(const std::string& session) {
    auto call = std::make_unique<Call>();
    v1::CallRequest request;
    request.set_session_id(session);
    request.set_method("tools/call");
    request.set_params_json(kEchoParams);
    call->reader = stub_.PrepareAsyncCallStream(&call->context, request, &cq_);
    call->reader->StartCall(call.get());
    calls_.push_back(std::move(call));
  }

 private:
  struct Call {
    grpc::ClientContext context;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncReader<v1::CallStreamEvent>> reader;
  };
  v1::Shadowcat::Stub& stub_;
  grpc::CompletionQueue cq_;  // StartCall and Finish tags, drained at the end
  std::vector<std::unique_ptr<Call>> calls_;
};

// Resident memory per session with an open standalone GET stream, and per
// active CallStream over an idle session, each in a fresh Shadowcat grown to
// every --sessions count in turn (RSS(N) - RSS(0)) / N; the streams are
// counted as connected by Shadowcat's own gauges before each sample.
absl::Status MemoryFigures(BenchReport& report, const std::string& url) {
  std::vector<int> counts;
  for (const std::string& text : absl::GetFlag(FLAGS_sessions)) {
    int n = 0;
    if (absl::SimpleAtoi(text, &n) && n > 0) counts.push_back(n);
  }
  for (const bool callstreams : {false, true}) {
    absl::StatusOr<Shadowcat> shadowcat = StartShadowcat({url});
    if (!shadowcat.ok()) return shadowcat.status();
    const pid_t pid = shadowcat->process->pid();
    const int64_t empty_kb = SampleProcess(pid).rss_kb;
    OpenCallStreams calls(*shadowcat->stub);
    int64_t idle_growth_kb = 0;  // what the sessions alone added
    int open = 0;
    for (int target : counts) {
      std::vector<std::string> added;
      const int64_t before_kb = SampleProcess(pid).rss_kb;
      for (; open < target; ++open) {
        absl::StatusOr<std::string> session =
            OpenSession(*shadowcat->stub, url, /*server_stream=*/!callstreams);
        if (!session.ok()) return session.status();
        added.push_back(*std::move(session));
      }
      const std::string kind = callstreams ? "post" : "get";
      const std::string series =
          absl::StrCat("shadowcat_upstream_streams_active{kind=\"", kind,
                       "\",state=\"connected\"}");
      if (!callstreams) {
        if (absl::Status s =
                WaitForMetric(shadowcat->admin_port, series, target);
            !s.ok()) {
          return s;
        }
        const int64_t rss_kb = SampleProcess(pid).rss_kb;
        report.Add(absl::StrCat("memory/get_stream", target, "/rss_mb"),
                   rss_kb / 1024.0, "MB");
        report.Add(absl::StrCat("memory/get_stream", target, "/kb_per_session"),
                   static_cast<double>(rss_kb - empty_kb) / target, "KB");
        continue;
      }
      const int64_t idle_kb = SampleProcess(pid).rss_kb;
      idle_growth_kb += idle_kb - before_kb;
      for (const std::string& session : added) calls.Start(session);
      if (absl::Status s = WaitForMetric(shadowcat->admin_port, series, target);
          !s.ok()) {
        return s;
      }
      const int64_t rss_kb = SampleProcess(pid).rss_kb;
      report.Add(absl::StrCat("memory/callstream", target, "/rss_mb"),
                 rss_kb / 1024.0, "MB");
      report.Add(
          absl::StrCat("memory/callstream", target, "/kb_per_callstream"),
          // RSS moves in pages: a tiny count may show none (never below 0).
          std::max<double>(0, rss_kb - empty_kb - idle_growth_kb) / target,
          "KB");
    }
  }
  return absl::OkStatus();
}

bool Wanted(absl::string_view group) {
  for (const std::string& g : absl::GetFlag(FLAGS_figures)) {
    if (g == group) return true;
  }
  return false;
}

int RunDriver() {
  BenchReport report;
  auto fail = [](absl::Status status) {
    std::cerr << "bench: " << status << "\n";
    return 1;
  };
  absl::StatusOr<Child> upstream = StartRole("upstream");
  if (!upstream.ok()) return fail(upstream.status());
  std::vector<CallUpstream> upstreams = {
      {"demo", upstream->port, upstream->process->pid()}};
  if (Wanted("calls") || Wanted("streams")) {
    absl::StatusOr<Child> flood = StartRole("flood");
    if (!flood.ok()) return fail(flood.status());
    absl::StatusOr<Child> floor = StartRole("floor");
    if (!floor.ok()) return fail(floor.status());
    std::vector<NodePeer> peers;
    if (absl::GetFlag(FLAGS_sdk) && Wanted("calls")) {
      for (bool json : {false, true}) {
        std::vector<std::string> args;
        if (json) args.push_back("--json");
        absl::StatusOr<NodePeer> peer = StartNodePeer(
            "sdk_server.mjs", args, {"@modelcontextprotocol/sdk"});
        if (!peer.ok()) return fail(peer.status());
        upstreams.push_back(
            {json ? "sdk_json" : "sdk_sse", peer->port, peer->process->pid()});
        peers.push_back(*std::move(peer));
      }
    }
    std::vector<std::string> urls;
    for (const CallUpstream& u : upstreams) urls.push_back(UrlOf(u));
    urls.push_back(absl::StrCat("http://127.0.0.1:", flood->port, "/mcp"));
    absl::StatusOr<Shadowcat> shadowcat = StartShadowcat(urls);
    if (!shadowcat.ok()) return fail(shadowcat.status());
    auto floor_stub = v1::Shadowcat::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", floor->port),
                            grpc::InsecureChannelCredentials()));
    if (Wanted("calls")) {
      for (const CallUpstream& u : upstreams) {
        absl::Status status = CallFigures(report, *shadowcat, *floor_stub,
                                          floor->process->pid(), u);
        if (!status.ok()) return fail(status);
      }
    }
    if (Wanted("streams")) {
      if (absl::Status s =
              StreamFigures(report, *shadowcat, *floor_stub, flood->port);
          !s.ok()) {
        return fail(s);
      }
    }
  }
  if (Wanted("sessions")) {
    if (absl::Status s = SessionFigures(report, UrlOf(upstreams[0])); !s.ok()) {
      return fail(s);
    }
  }
  if (Wanted("memory")) {
    absl::StatusOr<Child> hold = StartRole("hold");
    if (!hold.ok()) return fail(hold.status());
    if (absl::Status s = MemoryFigures(
            report, absl::StrCat("http://127.0.0.1:", hold->port, "/mcp"));
        !s.ok()) {
      return fail(s);
    }
  }
  if (absl::Status s = report.WriteJson(absl::GetFlag(FLAGS_out)); !s.ok()) {
    return fail(s);
  }
  std::cout << "wrote " << report.figures().size() << " figures to "
            << absl::GetFlag(FLAGS_out) << std::endl;
  return 0;
}

}  // namespace
}  // namespace shadowcat

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const std::string role = absl::GetFlag(FLAGS_role);
  if (role == "upstream") return shadowcat::RunUpstreamRole();
  if (role == "flood") return shadowcat::RunFloodRole();
  if (role == "floor") return shadowcat::RunFloorRole();
  if (role == "hold") return shadowcat::RunHoldRole();
  return shadowcat::RunDriver();
}
