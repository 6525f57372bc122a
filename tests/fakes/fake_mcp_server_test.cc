#include "tests/fakes/fake_mcp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "boost/json/value.hpp"
#include "gtest/gtest.h"
#include "tests/fakes/blocking_http_client.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kInitialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{)"
    R"("protocolVersion":"2025-06-18","capabilities":{},)"
    R"("clientInfo":{"name":"test","version":"1"}}})";
constexpr absl::string_view kToolsList =
    R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})";
constexpr absl::string_view kEchoCall =
    R"({"jsonrpc":"2.0","id":"call-7","method":"tools/call",)"
    R"("params":{"name":"echo","arguments":{"text":"hi"}}})";

// Starts a fake or fails the calling test at its first use of the null result.
std::unique_ptr<FakeMcpServer> StartFake(FakeMcpServerOptions options = {}) {
  absl::StatusOr<std::unique_ptr<FakeMcpServer>> fake =
      FakeMcpServer::Start(std::move(options));
  EXPECT_TRUE(fake.ok()) << fake.status();
  return fake.ok() ? *std::move(fake) : nullptr;
}

TestHttpResponse Post(const FakeMcpServer& fake, absl::string_view body) {
  return PostMcpOrFail(fake.port(), body);
}

TEST(FakeMcpServerTest, InitializeNegotiatesAndSendsSessionId) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  EXPECT_EQ(fake->url(),
            absl::StrCat("http://127.0.0.1:", fake->port(), "/mcp"));

  TestHttpResponse response = Post(*fake, kInitialize);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("Content-Type"), "application/json");
  EXPECT_EQ(response.Header("Mcp-Session-Id"), "fake-session-1");
  boost::json::value body = JsonOrFail(response.body);
  EXPECT_EQ(body.at("id"), 1);
  EXPECT_EQ(body.at("result").at("protocolVersion"), "2025-06-18");
  EXPECT_TRUE(body.at("result").at("capabilities").at("tools").is_object());
}

TEST(FakeMcpServerTest, ForcedVersionAndNoSessionId) {
  auto fake = StartFake({.session_id = "", .force_version = "2099-01-01"});
  ASSERT_NE(fake, nullptr);
  TestHttpResponse response = Post(*fake, kInitialize);
  EXPECT_EQ(response.Header("Mcp-Session-Id"), "");
  EXPECT_EQ(JsonOrFail(response.body).at("result").at("protocolVersion"),
            "2099-01-01");
}

TEST(FakeMcpServerTest, EchoesIdsExactly) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  // Beyond a double's precision: a re-encoding through double would change it.
  TestHttpResponse big =
      Post(*fake, R"({"jsonrpc":"2.0","id":9007199254740993,"method":"ping"})");
  EXPECT_EQ(big.body, R"({"jsonrpc":"2.0","id":9007199254740993,"result":{}})");
  TestHttpResponse text =
      Post(*fake, R"({"jsonrpc":"2.0","id":"a\"b","method":"ping"})");
  EXPECT_EQ(text.body, R"({"jsonrpc":"2.0","id":"a\"b","result":{}})");
}

TEST(FakeMcpServerTest, DefaultMethods) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  boost::json::value list = JsonOrFail(Post(*fake, kToolsList).body);
  ASSERT_EQ(list.at("result").at("tools").as_array().size(), 1u);
  EXPECT_EQ(list.at("result").at("tools").at(0).at("name"), "echo");

  boost::json::value echo = JsonOrFail(Post(*fake, kEchoCall).body);
  EXPECT_EQ(echo.at("id"), "call-7");
  EXPECT_EQ(echo.at("result").at("content").at(0).at("text"), "hi");

  boost::json::value unknown_tool =
      JsonOrFail(Post(*fake, R"({"jsonrpc":"2.0","id":3,"method":"tools/call",)"
                             R"("params":{"name":"x"}})")
                     .body);
  EXPECT_EQ(unknown_tool.at("error").at("code"), -32602);
  boost::json::value unknown_method = JsonOrFail(
      Post(*fake, R"({"jsonrpc":"2.0","id":4,"method":"nope/nope"})").body);
  EXPECT_EQ(unknown_method.at("error").at("code"), -32601);
}

TEST(FakeMcpServerTest, NotificationGets202WithoutBody) {
  auto fake = StartFake({.sse_by_default = true});
  ASSERT_NE(fake, nullptr);
  TestHttpResponse response =
      Post(*fake, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(response.status, 202);
  EXPECT_EQ(response.body, "");
}

TEST(FakeMcpServerTest, NonJsonBodyGets400ParseError) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  TestHttpResponse response = Post(*fake, "{not json");
  EXPECT_EQ(response.status, 400);
  boost::json::value body = JsonOrFail(response.body);
  EXPECT_TRUE(body.at("id").is_null());
  EXPECT_EQ(body.at("error").at("code"), -32700);
}

TEST(FakeMcpServerTest, GetIs405AndDeleteIs200) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  absl::StatusOr<TestHttpResponse> get = SendTestHttpRequest(
      fake->port(),
      {.method = "GET", .headers = {{"Accept", "text/event-stream"}}});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->status, 405);
  absl::StatusOr<TestHttpResponse> del =
      SendTestHttpRequest(fake->port(), {.method = "DELETE"});
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->status, 200);
}

TEST(FakeMcpServerTest, SseByDefaultFramesTheResponse) {
  auto fake = StartFake({.sse_by_default = true});
  ASSERT_NE(fake, nullptr);
  TestHttpResponse response = Post(*fake, kInitialize);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(response.Header("Mcp-Session-Id"), "fake-session-1");
  EXPECT_TRUE(response.body.starts_with("event: message\ndata: {"))
      << response.body;
  std::vector<std::string> events = SseEventData(response.body);
  ASSERT_EQ(events.size(), 1u) << response.body;
  EXPECT_EQ(JsonOrFail(events[0]).at("id"), 1);
}

TEST(FakeMcpServerTest, ScriptedSseSendsMessagesBeforeTheResponse) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  const std::string progress =
      R"({"jsonrpc":"2.0","method":"notifications/progress",)"
      R"("params":{"progressToken":"t","progress":1}})";
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {progress};
  fake->ScriptReply("tools/call", reply);

  TestHttpResponse response = Post(*fake, kEchoCall);
  EXPECT_EQ(response.Header("Content-Type"), "text/event-stream");
  std::vector<std::string> events = SseEventData(response.body);
  ASSERT_EQ(events.size(), 2u) << response.body;
  EXPECT_EQ(events[0], progress);
  EXPECT_EQ(JsonOrFail(events[1]).at("result").at("content").at(0).at("text"),
            "hi");
}

TEST(FakeMcpServerTest, ScriptedErrorReplacesTheResult) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/call",
                    {.error_json = R"({"code":-32000,"message":"boom"})"});
  boost::json::value body = JsonOrFail(Post(*fake, kEchoCall).body);
  EXPECT_EQ(body.at("id"), "call-7");
  EXPECT_EQ(body.at("error").at("message"), "boom");
  EXPECT_FALSE(body.as_object().contains("result"));
}

TEST(FakeMcpServerTest, ScriptsAreOneShotAndFifo) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/list", {.result_json = R"({"tools":[],"n":1})"});
  fake->ScriptReply("tools/list", {.result_json = R"({"tools":[],"n":2})",
                                   .extra_headers = {{"X-Test", "second"}}});
  EXPECT_EQ(JsonOrFail(Post(*fake, kToolsList).body).at("result").at("n"), 1);
  TestHttpResponse second = Post(*fake, kToolsList);
  EXPECT_EQ(JsonOrFail(second.body).at("result").at("n"), 2);
  EXPECT_EQ(second.Header("X-Test"), "second");
  EXPECT_EQ(JsonOrFail(Post(*fake, kToolsList).body)
                .at("result")
                .at("tools")
                .at(0)
                .at("name"),
            "echo");
}

TEST(FakeMcpServerTest, ScriptedRawBodyAndBareStatus) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply(
      "ping",
      {.status = 500, .raw_body = "oops", .content_type = "text/plain"});
  fake->ScriptReply("ping", {.status = 404});
  const absl::string_view ping = R"({"jsonrpc":"2.0","id":5,"method":"ping"})";

  TestHttpResponse raw = Post(*fake, ping);
  EXPECT_EQ(raw.status, 500);
  EXPECT_EQ(raw.Header("Content-Type"), "text/plain");
  EXPECT_EQ(raw.body, "oops");
  TestHttpResponse bare = Post(*fake, ping);
  EXPECT_EQ(bare.status, 404);
  EXPECT_EQ(bare.body, "");
}

TEST(FakeMcpServerTest, ScriptedAbortDropsTheConnectionAfterEarlyEvents) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  const std::string note =
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{}})";
  fake->ScriptReply(
      "tools/call",
      {.sse = true, .messages_before = {note}, .abort_after_head = true});
  TestHttpResponse response = Post(*fake, kEchoCall);
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.complete);
  EXPECT_EQ(SseEventData(response.body), std::vector<std::string>{note});
}

TEST(FakeMcpServerTest, ScriptedGetStream) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  const std::string note =
      R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})";
  fake->ScriptReply("GET", {.sse = true, .messages_before = {note}});
  absl::StatusOr<TestHttpResponse> get = SendTestHttpRequest(
      fake->port(),
      {.method = "GET", .headers = {{"Accept", "text/event-stream"}}});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(SseEventData(get->body), std::vector<std::string>{note});
}

TEST(FakeMcpServerTest, ScriptedDelayDoesNotBlockOtherRequests) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  const absl::Duration delay = absl::Milliseconds(1500);
  fake->ScriptReply("tools/call", {.delay = delay});
  const absl::Time start = absl::Now();
  absl::Notification delayed_done;
  std::thread delayed([&] {
    EXPECT_EQ(Post(*fake, kEchoCall).status, 200);
    delayed_done.Notify();
  });
  ASSERT_TRUE(fake->WaitForRpc("tools/call", nullptr));
  EXPECT_EQ(Post(*fake, kToolsList).status, 200);
  EXPECT_FALSE(delayed_done.HasBeenNotified());
  delayed.join();
  EXPECT_GE(absl::Now() - start, delay);
}

TEST(FakeMcpServerTest, RecordsRequestsInOrder) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  Post(*fake, kInitialize);
  absl::StatusOr<TestHttpResponse> initialized = PostMcp(
      fake->port(), R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
      {{"Mcp-Session-Id", "fake-session-1"},
       {"MCP-Protocol-Version", "2025-06-18"}});
  ASSERT_TRUE(initialized.ok()) << initialized.status();
  ASSERT_TRUE(SendTestHttpRequest(fake->port(), {.method = "DELETE"}).ok());
  ASSERT_TRUE(fake->WaitForRequestCount(3));

  std::vector<RecordedRequest> requests = fake->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].rpc_method, "initialize");
  EXPECT_EQ(requests[0].body, kInitialize);
  EXPECT_EQ(requests[0].target, "/mcp");
  EXPECT_EQ(requests[1].rpc_method, "notifications/initialized");
  EXPECT_EQ(requests[1].Header("mcp-protocol-version"), "2025-06-18");
  EXPECT_EQ(requests[2].http_method, "DELETE");
  EXPECT_EQ(requests[2].rpc_method, "");

  RecordedRequest seen;
  ASSERT_TRUE(fake->WaitForRpc("notifications/initialized", &seen));
  EXPECT_EQ(seen.Header("Mcp-Session-Id"), "fake-session-1");
  ASSERT_TRUE(fake->WaitForRpc("initialize", &seen));
  // Each request is handed out once.
  EXPECT_FALSE(fake->WaitForRpc("initialize", &seen, absl::Milliseconds(50)));
  EXPECT_TRUE(fake->WaitForRpc("DELETE", nullptr));
  EXPECT_FALSE(fake->WaitForRequestCount(4, absl::Milliseconds(50)));
}

// ---------------------------------------------------------------------------
// Stream faults. These tests read with RawStream: a plain socket read at the
// test's pace, which tells a clean close (EOF) from a reset and can stop
// reading to stall the fake.

struct SseBlock {
  std::string id;
  std::optional<int> retry;
  bool has_data = false;
  std::string data;  // data lines joined with "\n"
  std::string comment;
};

// The complete blocks of an SSE body (LF line ends, as the fake writes).
std::vector<SseBlock> SseBlocks(absl::string_view body) {
  std::vector<SseBlock> blocks;
  size_t start = 0;
  for (size_t end; (end = body.find("\n\n", start)) != body.npos;
       start = end + 2) {
    SseBlock block;
    std::vector<absl::string_view> data;
    for (absl::string_view line :
         absl::StrSplit(body.substr(start, end - start), '\n')) {
      if (absl::ConsumePrefix(&line, ":")) {
        block.comment = std::string(absl::StripLeadingAsciiWhitespace(line));
        continue;
      }
      std::pair<absl::string_view, absl::string_view> field =
          absl::StrSplit(line, absl::MaxSplits(':', 1));
      absl::string_view value = field.second;
      absl::ConsumePrefix(&value, " ");
      if (field.first == "id") block.id = std::string(value);
      if (field.first == "data") data.push_back(value);
      if (field.first == "retry") {
        int retry = 0;
        if (absl::SimpleAtoi(value, &retry)) block.retry = retry;
      }
    }
    block.has_data = !data.empty();
    block.data = absl::StrJoin(data, "\n");
    blocks.push_back(std::move(block));
  }
  return blocks;
}

// The blocks that are events (not comment-only).
std::vector<SseBlock> SseEvents(absl::string_view body) {
  std::vector<SseBlock> events;
  for (SseBlock& block : SseBlocks(body)) {
    if (block.has_data) events.push_back(std::move(block));
  }
  return events;
}

class RawStream {
 public:
  enum class End { kOpen, kEof, kReset };

  // Connects and sends one request; nullptr when either fails.
  static std::unique_ptr<RawStream> Open(uint16_t port,
                                         absl::string_view method,
                                         HttpHeaders headers,
                                         absl::string_view body = "") {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return nullptr;
    auto stream = absl::WrapUnique(new RawStream(fd));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return nullptr;
    }
    std::string request =
        absl::StrCat(method, " /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (const auto& [name, value] : headers) {
      absl::StrAppend(&request, name, ": ", value, "\r\n");
    }
    if (!body.empty()) {
      absl::StrAppend(&request, "Content-Type: application/json\r\n",
                      "Content-Length: ", body.size(), "\r\n");
    }
    absl::StrAppend(&request, "\r\n", body);
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n =
          send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return nullptr;
      sent += n;
    }
    return stream;
  }

  ~RawStream() { close(fd_); }

  // Reads until `done()` holds, the connection ends, or `timeout` passes;
  // returns done().
  bool ReadUntil(const std::function<bool()>& done,
                 absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done() && end_ == End::kOpen) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, absl::ToInt64Milliseconds(left) + 1) <= 0) continue;
      char buffer[64 << 10];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n > 0) {
        raw_.append(buffer, n);
        Parse();
      } else if (n == 0) {
        end_ = End::kEof;
      } else if (errno != EINTR && errno != EAGAIN) {
        end_ = errno == ECONNRESET ? End::kReset : End::kEof;
      }
    }
    return done();
  }
  // Reads until the response ended or the connection did.
  bool ReadToEnd(absl::Duration timeout = absl::Seconds(5)) {
    return ReadUntil([this] { return complete_ || end_ != End::kOpen; },
                     timeout);
  }
  bool ReadHead() {
    return ReadUntil([this] { return head_done_; });
  }
  bool ReadEvents(size_t n) {
    return ReadUntil([this, n] { return SseEvents(body_).size() >= n; });
  }

  int status() const { return status_; }
  std::string Header(absl::string_view name) const {
    return HeaderOrEmpty(headers_, name);
  }
  const std::string& body() const { return body_; }  // de-chunked
  bool complete() const { return complete_; }        // the last chunk arrived
  End end() const { return end_; }

 private:
  explicit RawStream(int fd) : fd_(fd) {}

  void Parse() {
    if (!head_done_) {
      const size_t end = raw_.find("\r\n\r\n");
      if (end == raw_.npos) return;
      std::vector<absl::string_view> lines =
          absl::StrSplit(absl::string_view(raw_).substr(0, end), "\r\n");
      std::vector<absl::string_view> status_line =
          absl::StrSplit(lines[0], ' ');
      if (status_line.size() < 2 ||
          !absl::SimpleAtoi(status_line[1], &status_)) {
        status_ = -1;
      }
      for (size_t i = 1; i < lines.size(); ++i) {
        std::pair<absl::string_view, absl::string_view> field =
            absl::StrSplit(lines[i], absl::MaxSplits(':', 1));
        headers_.emplace_back(
            std::string(field.first),
            std::string(absl::StripAsciiWhitespace(field.second)));
      }
      raw_.erase(0, end + 4);
      head_done_ = true;
      chunked_ = absl::EqualsIgnoreCase(Header("Transfer-Encoding"), "chunked");
    }
    if (!chunked_) {
      body_ += raw_;
      raw_.clear();
      size_t length = 0;
      if (absl::SimpleAtoi(Header("Content-Length"), &length)) {
        complete_ = body_.size() >= length;
      }
      return;
    }
    while (!complete_) {
      const size_t line_end = raw_.find("\r\n");
      if (line_end == raw_.npos) return;
      size_t size = 0;
      if (!absl::SimpleHexAtoi(raw_.substr(0, line_end), &size)) return;
      if (raw_.size() < line_end + 2 + size + 2) return;
      body_.append(raw_, line_end + 2, size);
      raw_.erase(0, line_end + 2 + size + 2);
      complete_ = size == 0;
    }
  }

  const int fd_;
  std::string raw_;  // received, not yet parsed
  bool head_done_ = false;
  bool chunked_ = false;
  int status_ = 0;
  HttpHeaders headers_;
  std::string body_;
  bool complete_ = false;
  End end_ = End::kOpen;
};

const HttpHeaders kSessionHeaders = {{"Mcp-Session-Id", "fake-session-1"},
                                     {"MCP-Protocol-Version", "2025-06-18"}};

std::string Note(int n) {
  return absl::StrCat(R"({"jsonrpc":"2.0","method":"notifications/progress",)",
                      R"("params":{"progressToken":"t","progress":)", n, "}}");
}

std::unique_ptr<RawStream> Get(const FakeMcpServer& fake,
                               absl::string_view last_event_id = "") {
  HttpHeaders headers = kSessionHeaders;
  headers.emplace_back("Accept", "text/event-stream");
  if (!last_event_id.empty()) {
    headers.emplace_back("Last-Event-ID", std::string(last_event_id));
  }
  return RawStream::Open(fake.port(), "GET", std::move(headers));
}

std::unique_ptr<RawStream> PostStream(const FakeMcpServer& fake,
                                      absl::string_view body) {
  HttpHeaders headers = kSessionHeaders;
  headers.emplace_back("Accept", "application/json, text/event-stream");
  return RawStream::Open(fake.port(), "POST", std::move(headers), body);
}

TEST(FakeMcpServerStreamTest, PrimingRetryAndIdsOnEveryEvent) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply(
      "tools/call",
      {.messages_before = {Note(1)}, .priming = true, .retry_ms = 1500});
  TestHttpResponse response = Post(*fake, kEchoCall);
  EXPECT_EQ(response.Header("Content-Type"), "text/event-stream");
  EXPECT_TRUE(response.body.starts_with("id: s")) << response.body;
  std::vector<SseBlock> events = SseEvents(response.body);
  ASSERT_EQ(events.size(), 3u) << response.body;
  EXPECT_EQ(events[0].data, "");
  EXPECT_EQ(events[0].retry, 1500);
  EXPECT_EQ(events[1].data, Note(1));
  EXPECT_FALSE(events[1].retry.has_value());
  EXPECT_EQ(JsonOrFail(events[2].data).at("id"), "call-7");
  EXPECT_NE(events[0].id, "");
  EXPECT_NE(events[0].id, events[1].id);
  EXPECT_NE(events[1].id, events[2].id);
}

TEST(FakeMcpServerStreamTest, DropAfterEventsThenResumeReplaysTheRest) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/call", {.messages_before = {Note(1), Note(2)},
                                   .event_ids = true,
                                   .drop_after_events = 2});
  auto post = PostStream(*fake, kEchoCall);
  ASSERT_NE(post, nullptr);
  ASSERT_TRUE(post->ReadToEnd());
  EXPECT_EQ(post->end(), RawStream::End::kEof);
  EXPECT_FALSE(post->complete());
  std::vector<SseBlock> first = SseEvents(post->body());
  ASSERT_EQ(first.size(), 2u) << post->body();
  EXPECT_EQ(first[1].data, Note(2));

  auto resumed = Get(*fake, first[0].id);
  ASSERT_NE(resumed, nullptr);
  ASSERT_TRUE(resumed->ReadToEnd());
  EXPECT_EQ(resumed->status(), 200);
  EXPECT_EQ(resumed->Header("Content-Type"), "text/event-stream");
  EXPECT_TRUE(resumed->complete());
  std::vector<SseBlock> rest = SseEvents(resumed->body());
  ASSERT_EQ(rest.size(), 2u) << resumed->body();
  EXPECT_EQ(rest[0].id, first[1].id);  // original ids
  EXPECT_EQ(rest[0].data, Note(2));
  EXPECT_EQ(JsonOrFail(rest[1].data).at("id"), "call-7");

  RecordedRequest call, get;
  ASSERT_TRUE(fake->WaitForRpc("tools/call", &call));
  ASSERT_TRUE(fake->WaitForRpc("GET", &get));
  EXPECT_EQ(get.Header("Last-Event-ID"), first[0].id);
  EXPECT_EQ(get.Header("Mcp-Session-Id"), "fake-session-1");
  EXPECT_EQ(get.Header("MCP-Protocol-Version"), "2025-06-18");
  EXPECT_GE(get.received_at, call.received_at);
  EXPECT_EQ(call.rpc_id, R"("call-7")");
}

TEST(FakeMcpServerStreamTest, PollingCloseThenResumeGetsTheResponse) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/call",
                    {.priming = true, .retry_ms = 10, .drop_after_events = 1});
  auto post = PostStream(*fake, kEchoCall);
  ASSERT_NE(post, nullptr);
  ASSERT_TRUE(post->ReadToEnd());
  std::vector<SseBlock> priming = SseEvents(post->body());
  ASSERT_EQ(priming.size(), 1u);
  EXPECT_EQ(priming[0].retry, 10);
  EXPECT_EQ(post->body(),
            absl::StrCat("id: ", priming[0].id, "\nretry: 10\ndata:\n\n"));

  auto resumed = Get(*fake, priming[0].id);
  ASSERT_NE(resumed, nullptr);
  ASSERT_TRUE(resumed->ReadToEnd());
  std::vector<SseBlock> rest = SseEvents(resumed->body());
  ASSERT_EQ(rest.size(), 1u) << resumed->body();
  EXPECT_EQ(
      JsonOrFail(rest[0].data).at("result").at("content").at(0).at("text"),
      "hi");
}

TEST(FakeMcpServerStreamTest, RstDropResetsTheConnection) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply(
      "tools/call",
      {.priming = true, .drop_after_events = 1, .drop_kind = DropKind::kRst});
  auto post = PostStream(*fake, kEchoCall);
  ASSERT_NE(post, nullptr);
  ASSERT_TRUE(post->ReadToEnd());
  EXPECT_EQ(post->end(), RawStream::End::kReset);
  EXPECT_FALSE(post->complete());
  EXPECT_EQ(SseEvents(post->body()).size(), 1u) << post->body();
}

TEST(FakeMcpServerStreamTest, ResumeNeverReplaysAnotherStream) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/call", {.messages_before = {Note(1), Note(2)},
                                   .event_ids = true,
                                   .drop_after_events = 1});
  fake->ScriptReply("tools/call", {.messages_before = {Note(3), Note(4)},
                                   .event_ids = true,
                                   .drop_after_events = 1});
  auto a = PostStream(*fake, kEchoCall);
  auto b = PostStream(*fake, kEchoCall);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->ReadToEnd());
  ASSERT_TRUE(b->ReadToEnd());
  std::vector<SseBlock> a_events = SseEvents(a->body());
  std::vector<SseBlock> b_events = SseEvents(b->body());
  ASSERT_EQ(a_events.size(), 1u);
  ASSERT_EQ(b_events.size(), 1u);
  EXPECT_NE(a_events[0].id, b_events[0].id);

  auto resumed = Get(*fake, a_events[0].id);
  ASSERT_NE(resumed, nullptr);
  ASSERT_TRUE(resumed->ReadToEnd());
  std::vector<SseBlock> rest = SseEvents(resumed->body());
  ASSERT_EQ(rest.size(), 2u) << resumed->body();
  EXPECT_EQ(rest[0].data, a_events[0].data == Note(1) ? Note(2) : Note(4));

  auto unknown = Get(*fake, "no-such-id");
  ASSERT_NE(unknown, nullptr);
  ASSERT_TRUE(unknown->ReadToEnd());
  EXPECT_EQ(unknown->status(), 404);
}

TEST(FakeMcpServerStreamTest, ResumeBehaviours) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/call", {.messages_before = {Note(1), Note(2)},
                                   .priming = true,
                                   .drop_after_events = 1});
  auto post = PostStream(*fake, kEchoCall);
  ASSERT_NE(post, nullptr);
  ASSERT_TRUE(post->ReadToEnd());
  const std::string priming_id = SseEvents(post->body()).at(0).id;

  // Scripted, one-shot: expired session, then a resume dropped again.
  fake->ScriptReply("GET", {.status = 404});
  fake->ScriptReply("GET", {.drop_after_events = 1});
  auto expired = Get(*fake, priming_id);
  ASSERT_TRUE(expired->ReadToEnd());
  EXPECT_EQ(expired->status(), 404);
  auto dropped_again = Get(*fake, priming_id);
  ASSERT_TRUE(dropped_again->ReadToEnd());
  EXPECT_EQ(dropped_again->status(), 200);
  EXPECT_FALSE(dropped_again->complete());
  std::vector<SseBlock> one = SseEvents(dropped_again->body());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].data, Note(1));

  // Per server: every resume is an empty stream (RZ-10).
  fake->SetResumeBehavior({.empty = true});
  for (int i = 0; i < 3; ++i) {
    auto empty = Get(*fake, one[0].id);
    ASSERT_TRUE(empty->ReadToEnd());
    EXPECT_EQ(empty->status(), 200);
    EXPECT_TRUE(empty->complete());
    EXPECT_EQ(empty->body(), "");
  }
  fake->SetResumeBehavior({});
  auto rest = Get(*fake, one[0].id);
  ASSERT_TRUE(rest->ReadToEnd());
  std::vector<SseBlock> tail = SseEvents(rest->body());
  ASSERT_EQ(tail.size(), 2u) << rest->body();
  EXPECT_EQ(tail[0].data, Note(2));
}

FakeMcpServerOptions StandaloneOptions() {
  return {.standalone_get = {.enabled = true, .priming = true}};
}

TEST(FakeMcpServerStreamTest, StandaloneGetPushesAndRefusesASecondGet) {
  auto fake = StartFake(StandaloneOptions());
  ASSERT_NE(fake, nullptr);
  const std::string early =
      R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})";
  const std::string request =
      R"({"jsonrpc":"2.0","id":"srv-9","method":"roots/list"})";
  fake->PushServerMessage(early);  // queued: no GET yet
  auto get = Get(*fake);
  ASSERT_NE(get, nullptr);
  ASSERT_TRUE(fake->WaitForGetStreamOpen());
  fake->PushServerMessage(request);
  ASSERT_TRUE(get->ReadEvents(3)) << get->body();
  EXPECT_EQ(get->status(), 200);
  std::vector<SseBlock> events = SseEvents(get->body());
  EXPECT_EQ(events[0].data, "");
  EXPECT_EQ(events[1].data, early);
  EXPECT_EQ(events[2].data, request);
  EXPECT_NE(events[2].id, "");

  auto second = Get(*fake);
  ASSERT_TRUE(second->ReadToEnd());
  EXPECT_EQ(second->status(), 409);

  // Once the client leaves, a new GET is welcome again.
  get.reset();
  ASSERT_TRUE(fake->WaitForClientDisconnect());
  auto third = Get(*fake);
  ASSERT_TRUE(third->ReadHead());
  EXPECT_EQ(third->status(), 200);
}

TEST(FakeMcpServerStreamTest, StandaloneGetSendsKeepalives) {
  auto fake = StartFake(
      {.standalone_get = {.enabled = true,
                          .keepalive_interval = absl::Milliseconds(20)}});
  ASSERT_NE(fake, nullptr);
  auto get = Get(*fake);
  ASSERT_NE(get, nullptr);
  ASSERT_TRUE(get->ReadUntil([&] {
    int comments = 0;
    for (const SseBlock& block : SseBlocks(get->body())) {
      if (block.comment == "keepalive" && !block.has_data) ++comments;
    }
    return comments >= 2;
  })) << get->body();
  EXPECT_TRUE(SseEvents(get->body()).empty());
}

TEST(FakeMcpServerStreamTest, StandaloneGetDropsAndResumes) {
  FakeMcpServerOptions options = StandaloneOptions();
  options.standalone_get.retry_ms = 5;
  options.standalone_get.drop_after_events = 1;
  auto fake = StartFake(options);
  ASSERT_NE(fake, nullptr);
  fake->PushServerMessage(Note(1));
  auto get = Get(*fake);
  ASSERT_TRUE(get->ReadToEnd());
  EXPECT_EQ(get->end(), RawStream::End::kEof);
  std::vector<SseBlock> priming = SseEvents(get->body());
  ASSERT_EQ(priming.size(), 1u) << get->body();
  EXPECT_EQ(priming[0].retry, 5);
  EXPECT_EQ(fake->client_disconnects(), 0u);  // the fake's own drop

  fake->PushServerMessage(Note(2));  // kept for the resume
  auto resumed = Get(*fake, priming[0].id);
  ASSERT_TRUE(resumed->ReadEvents(2)) << resumed->body();
  std::vector<SseBlock> rest = SseEvents(resumed->body());
  EXPECT_EQ(rest[0].data, Note(1));
  EXPECT_EQ(rest[1].data, Note(2));
  // The resumed stream is the open GET stream again.
  ASSERT_TRUE(fake->WaitForGetStreamOpen());
  fake->PushServerMessage(Note(3));
  ASSERT_TRUE(resumed->ReadEvents(3)) << resumed->body();
  EXPECT_EQ(SseEvents(resumed->body())[2].data, Note(3));
}

TEST(FakeMcpServerStreamTest, CallWaitsForTheClientsResponse) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  const std::string elicit =
      R"({"jsonrpc":"2.0","id":"srv-1","method":"elicitation/create",)"
      R"("params":{"message":"ok?","requestedSchema":{"type":"object"}}})";
  fake->ScriptReply("tools/call",
                    {.messages_before = {elicit},
                     .result_json = R"({"content":[],"answer":$RESPONSE})",
                     .wait_for_response_to = R"( "srv-1" )"});
  auto call = PostStream(*fake, kEchoCall);
  ASSERT_TRUE(call->ReadEvents(1));
  EXPECT_EQ(SseEvents(call->body())[0].data, elicit);

  TestHttpResponse ack = PostMcpOrFail(
      fake->port(),
      R"({"jsonrpc":"2.0","id":"srv-1","result":{"action":"accept"}})",
      kSessionHeaders);
  EXPECT_EQ(ack.status, 202);
  RecordedRequest answer;
  ASSERT_TRUE(fake->WaitForResponseTo(R"("srv-1")", &answer));
  EXPECT_TRUE(answer.is_rpc_response);
  EXPECT_FALSE(fake->WaitForResponseTo("7", nullptr, absl::Milliseconds(1)));

  ASSERT_TRUE(call->ReadToEnd());
  EXPECT_TRUE(call->complete());
  std::vector<SseBlock> events = SseEvents(call->body());
  ASSERT_EQ(events.size(), 2u) << call->body();
  boost::json::value result = JsonOrFail(events[1].data);
  EXPECT_EQ(result.at("id"), "call-7");
  EXPECT_EQ(result.at("result").at("answer").at("action"), "accept");
}

TEST(FakeMcpServerStreamTest, FloodBlocksOnAStalledReaderAndLosesNothing) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  // Far more than the small send buffer and the reader's initial window.
  constexpr size_t kEvents = 200;
  fake->ScriptReply("tools/call", {.flood_events = kEvents,
                                   .flood_event_bytes = 4096,
                                   .send_buffer_bytes = 16 << 10});
  auto call = PostStream(*fake, kEchoCall);
  ASSERT_TRUE(call->ReadHead());
  // The reader stops here; the fake must notice its writes waiting.
  ASSERT_TRUE(fake->WaitForFloodBlocked());

  ASSERT_TRUE(call->ReadToEnd());
  ASSERT_TRUE(call->complete());
  std::vector<SseBlock> events = SseEvents(call->body());
  ASSERT_EQ(events.size(), kEvents + 1);
  for (size_t i = 0; i < kEvents; ++i) {
    boost::json::value note = JsonOrFail(events[i].data);
    ASSERT_EQ(note.at("params").at("seq"), i);
    EXPECT_GE(events[i].data.size(), 4096u);
  }
  EXPECT_EQ(JsonOrFail(events[kEvents].data).at("id"), "call-7");
  FloodStats stats = fake->flood_stats();
  EXPECT_EQ(stats.events_sent, kEvents);
  EXPECT_GE(stats.writes_waited_over_10ms, 1u);
  EXPECT_GT(stats.max_write_wait, absl::Milliseconds(10));
  EXPECT_GE(stats.total_write_wait, stats.max_write_wait);
}

TEST(FakeMcpServerStreamTest, FloodToAFastReader) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/call",
                    {.flood_events = 1000, .flood_event_bytes = 100});
  TestHttpResponse response = Post(*fake, kEchoCall);
  std::vector<std::string> events = SseEventData(response.body);
  ASSERT_EQ(events.size(), 1001u);
  EXPECT_EQ(JsonOrFail(events[999]).at("params").at("seq"), 999);
  EXPECT_EQ(fake->flood_stats().events_sent, 1000u);
}

TEST(FakeMcpServerStreamTest, HeldSseReplySeesTheClientLeave) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/call", {.priming = true, .hold = "call"});
  auto call = PostStream(*fake, kEchoCall);
  ASSERT_TRUE(call->ReadEvents(1));
  EXPECT_EQ(fake->client_disconnects(), 0u);
  call.reset();
  ASSERT_TRUE(fake->WaitForClientDisconnect());
  EXPECT_EQ(fake->client_disconnects(), 1u);
  fake->Release("call");  // the response goes to the store only

  // A gate released before the request does not hold it.
  fake->ScriptReply("tools/call", {.sse = true, .hold = "call"});
  std::vector<std::string> events = SseEventData(Post(*fake, kEchoCall).body);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(JsonOrFail(events[0]).at("id"), "call-7");
}

TEST(FakeMcpServerStreamTest, HeldJsonReplyWaitsForRelease) {
  auto fake = StartFake();
  ASSERT_NE(fake, nullptr);
  fake->ScriptReply("tools/list", {.hold = "list"});
  auto list = PostStream(*fake, kToolsList);
  ASSERT_TRUE(fake->WaitForRpc("tools/list", nullptr));
  // A short look for bytes that must not come (a bounded wait, not a sync).
  EXPECT_FALSE(list->ReadUntil([&] { return list->status() != 0; },
                               absl::Milliseconds(50)));
  fake->Release("list");
  ASSERT_TRUE(list->ReadToEnd());
  EXPECT_EQ(list->status(), 200);
  EXPECT_EQ(JsonOrFail(list->body()).at("id"), 2);
}

TEST(FakeMcpServerStreamTest, StrictHeadersRefuseWrongSessionOrVersion) {
  auto fake = StartFake({.strict_headers = true});
  ASSERT_NE(fake, nullptr);
  // Before initialize, nothing is checked.
  EXPECT_EQ(Post(*fake, kToolsList).status, 200);
  EXPECT_EQ(Post(*fake, kInitialize).status, 200);
  EXPECT_EQ(Post(*fake, kToolsList).status, 400);
  EXPECT_EQ(PostMcpOrFail(fake->port(), kToolsList, kSessionHeaders).status,
            200);
  EXPECT_EQ(PostMcpOrFail(fake->port(), kToolsList,
                          {{"Mcp-Session-Id", "fake-session-1"},
                           {"MCP-Protocol-Version", "2025-03-26"}})
                .status,
            400);
  EXPECT_EQ(PostMcpOrFail(fake->port(), kToolsList,
                          {{"Mcp-Session-Id", "other"},
                           {"MCP-Protocol-Version", "2025-06-18"}})
                .status,
            400);
  absl::StatusOr<TestHttpResponse> del =
      SendTestHttpRequest(fake->port(), {.method = "DELETE"});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 400);
  auto get = Get(*fake);
  ASSERT_TRUE(get->ReadToEnd());
  EXPECT_EQ(get->status(), 405);  // right headers: the usual answer
}

}  // namespace
}  // namespace shadowcat
