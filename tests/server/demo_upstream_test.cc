#include "server/demo_upstream.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/json/value.hpp"
#include "gtest/gtest.h"
#include "tests/fakes/blocking_http_client.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kPing =
    R"({"jsonrpc":"2.0","id":1,"method":"ping"})";

std::string InitializeBody(absl::string_view version) {
  return absl::StrCat(
      R"({"jsonrpc":"2.0","id":0,"method":"initialize",)"
      R"("params":{"protocolVersion":")",
      version,
      R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
}

// Opens a session; returns its id (empty on failure, which also fails the
// test).
std::string OpenSession(uint16_t port) {
  TestHttpResponse response = PostMcpOrFail(port, InitializeBody("2025-11-25"));
  EXPECT_EQ(response.status, 200) << response.body;
  return response.Header("Mcp-Session-Id");
}

// A demo upstream on 127.0.0.1:0, served by two threads so handlers really run
// concurrently, with one session open.
class RunningDemo {
 public:
  explicit RunningDemo(DemoUpstreamOptions options = {})
      : work_(boost::asio::make_work_guard(ioc_)) {
    absl::StatusOr<std::unique_ptr<DemoUpstream>> demo =
        DemoUpstream::Start(ioc_, "127.0.0.1", 0, options);
    EXPECT_TRUE(demo.ok()) << demo.status();
    if (!demo.ok()) return;
    demo_ = *std::move(demo);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    session_ = OpenSession(port());
  }

  ~RunningDemo() {
    if (demo_ != nullptr) demo_->Stop();
    work_.reset();
    ioc_.stop();
    for (std::thread& thread : threads_) thread.join();
    demo_.reset();
  }

  bool ok() const { return demo_ != nullptr && !session_.empty(); }
  DemoUpstream& demo() { return *demo_; }
  uint16_t port() const { return demo_->port(); }
  const std::string& session() const { return session_; }

  // POSTs `body` in `session` (default: the open one) with the
  // protocol-version header a client sends.
  TestHttpResponse Call(absl::string_view body,
                        const std::string* session = nullptr) {
    return PostMcpOrFail(port(), body,
                         {{"Mcp-Session-Id", session ? *session : session_},
                          {"MCP-Protocol-Version", "2025-11-25"}});
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  std::unique_ptr<DemoUpstream> demo_;
  std::vector<std::thread> threads_;
  std::string session_;
};

std::string ToolCall(absl::string_view id, absl::string_view name,
                     absl::string_view arguments,
                     absl::string_view meta = "{}") {
  return absl::StrCat(R"({"jsonrpc":"2.0","id":)", id,
                      R"(,"method":"tools/call","params":{"name":")", name,
                      R"(","arguments":)", arguments, R"(,"_meta":)", meta,
                      "}}");
}

// The text of the first content block of a tools/call result.
std::string ResultText(const boost::json::value& response) {
  const boost::json::value& text =
      response.at("result").at("content").at(0).at("text");
  return std::string(text.as_string().c_str());
}

TEST(DemoUpstreamTest, InitializeNegotiatesVersionAndOpensSession) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running.demo().url(),
            absl::StrCat("http://127.0.0.1:", running.port(), "/mcp"));

  for (const char* version : {"2025-11-25", "2025-06-18", "2025-03-26"}) {
    TestHttpResponse response =
        PostMcpOrFail(running.port(), InitializeBody(version));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.Header("Content-Type"), "application/json");
    boost::json::value result = JsonOrFail(response.body).at("result");
    EXPECT_EQ(result.at("protocolVersion"), version);
    EXPECT_EQ(result.at("serverInfo").at("name"), "shadowcat-demo");
    EXPECT_TRUE(result.at("capabilities").at("tools").is_object());
    EXPECT_FALSE(result.at("instructions").as_string().empty());
  }
  TestHttpResponse old =
      PostMcpOrFail(running.port(), InitializeBody("2024-11-05"));
  EXPECT_EQ(JsonOrFail(old.body).at("result").at("protocolVersion"),
            "2025-11-25");

  std::string another = OpenSession(running.port());
  EXPECT_NE(another, running.session());
  for (char c : running.session()) {
    EXPECT_TRUE(c >= 0x21 && c <= 0x7e) << running.session();
  }
}

TEST(DemoUpstreamTest, NotificationsAndResponsesGet202) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  TestHttpResponse initialized =
      running.Call(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(initialized.status, 202);
  EXPECT_EQ(initialized.body, "");
  EXPECT_EQ(running.Call(R"({"jsonrpc":"2.0","id":9,"result":{}})").status,
            202);
}

TEST(DemoUpstreamTest, RequestsOutsideASessionAreRefused) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(PostMcpOrFail(running.port(), kPing).status, 400);
  const std::string unknown = "not-a-session";
  EXPECT_EQ(running.Call(kPing, &unknown).status, 404);
  EXPECT_EQ(PostMcpOrFail(running.port(), kPing,
                          {{"Mcp-Session-Id", running.session()},
                           {"MCP-Protocol-Version", "1999-01-01"}})
                .status,
            400);
  // The version header is optional (2025-03-26 clients send none).
  TestHttpResponse bare = PostMcpOrFail(
      running.port(), kPing, {{"Mcp-Session-Id", running.session()}});
  EXPECT_EQ(bare.status, 200);
  EXPECT_TRUE(JsonOrFail(bare.body).at("result").as_object().empty());
}

TEST(DemoUpstreamTest, NonJsonBodyGets400ParseError) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  TestHttpResponse response = running.Call("]");
  EXPECT_EQ(response.status, 400);
  boost::json::value body = JsonOrFail(response.body);
  EXPECT_TRUE(body.at("id").is_null());
  EXPECT_EQ(body.at("error").at("code"), -32700);
}

TEST(DemoUpstreamTest, ListsAndCallsTools) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  boost::json::value list = JsonOrFail(
      running.Call(R"({"jsonrpc":"2.0","id":"l","method":"tools/list"})").body);
  std::vector<std::string> names;
  for (const boost::json::value& tool :
       list.at("result").at("tools").as_array()) {
    names.emplace_back(tool.at("name").as_string().c_str());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"echo", "add", "slow"}));

  auto call = [&](absl::string_view name, absl::string_view arguments) {
    return JsonOrFail(running.Call(ToolCall("7", name, arguments)).body);
  };
  EXPECT_EQ(ResultText(call("echo", R"({"text":"hello"})")), "hello");
  EXPECT_EQ(ResultText(call("add", R"({"a":2,"b":3})")), "5");
  EXPECT_EQ(ResultText(call("add", R"({"a":1.5,"b":2})")), "3.5");
  EXPECT_EQ(ResultText(call("add", R"({"a":-4,"b":0.25})")), "-3.75");
  EXPECT_EQ(call("add", R"({"a":"1","b":2})").at("error").at("code"), -32602);
  EXPECT_EQ(call("echo", R"({})").at("error").at("code"), -32602);
  boost::json::value unknown = call("nope", "{}");
  EXPECT_EQ(unknown.at("id"), 7);
  EXPECT_EQ(unknown.at("error").at("code"), -32602);

  boost::json::value method = JsonOrFail(
      running.Call(R"({"jsonrpc":"2.0","id":8,"method":"x/y"})").body);
  EXPECT_EQ(method.at("error").at("code"), -32601);
}

TEST(DemoUpstreamTest, SlowStreamsProgressThenResult) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  const absl::Time start = absl::Now();
  TestHttpResponse response =
      running.Call(ToolCall(R"("s1")", "slow", R"({"steps":3,"delay_ms":30})",
                            R"({"progressToken":"tok"})"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("Content-Type"), "text/event-stream");
  EXPECT_TRUE(response.complete);

  std::vector<std::string> events = SseEventData(response.body);
  ASSERT_EQ(events.size(), 4u) << response.body;
  for (int i = 0; i < 3; ++i) {
    boost::json::value progress = JsonOrFail(events[i]);
    EXPECT_EQ(progress.at("method"), "notifications/progress");
    EXPECT_EQ(progress.at("params").at("progressToken"), "tok");
    EXPECT_EQ(progress.at("params").at("progress"), i + 1);
    EXPECT_EQ(progress.at("params").at("total"), 3);
  }
  boost::json::value result = JsonOrFail(events[3]);
  EXPECT_EQ(result.at("id"), "s1");
  EXPECT_EQ(ResultText(result), "slow finished 3 steps");
}

TEST(DemoUpstreamTest, SlowWithoutProgressTokenSendsOnlyTheResult) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  TestHttpResponse response =
      running.Call(ToolCall("5", "slow", R"({"steps":2,"delay_ms":1})"));
  EXPECT_EQ(response.Header("Content-Type"), "text/event-stream");
  std::vector<std::string> events = SseEventData(response.body);
  ASSERT_EQ(events.size(), 1u) << response.body;
  EXPECT_EQ(JsonOrFail(events[0]).at("id"), 5);

  TestHttpResponse refused =
      running.Call(ToolCall("6", "slow", R"({"steps":-1})"));
  EXPECT_EQ(refused.Header("Content-Type"), "application/json");
  EXPECT_EQ(JsonOrFail(refused.body).at("error").at("code"), -32602);
}

TEST(DemoUpstreamTest, StopEndsARunningSlowStream) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  absl::Notification streaming;
  std::thread caller([&] {
    absl::StatusOr<TestHttpResponse> response = SendTestHttpRequest(
        running.port(),
        {.headers = {{"Content-Type", "application/json"},
                     {"Mcp-Session-Id", running.session()}},
         .body = ToolCall("1", "slow", R"({"steps":100,"delay_ms":10000})"),
         .head_read = &streaming});
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->Header("Content-Type"), "text/event-stream");
    EXPECT_FALSE(response->complete);
  });
  ASSERT_TRUE(streaming.WaitForNotificationWithTimeout(absl::Seconds(5)));
  const absl::Time stop = absl::Now();
  running.demo().Stop();
  caller.join();
  EXPECT_LT(absl::Now() - stop, absl::Seconds(2));
}

TEST(DemoUpstreamTest, GetIs405AndDeleteEndsTheSession) {
  RunningDemo running;
  ASSERT_TRUE(running.ok());
  const HttpHeaders in_session = {{"Mcp-Session-Id", running.session()}};
  absl::StatusOr<TestHttpResponse> get = SendTestHttpRequest(
      running.port(), {.method = "GET", .headers = in_session});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->status, 405);

  const TestHttpRequest end_session = {.method = "DELETE",
                                       .headers = in_session};
  absl::StatusOr<TestHttpResponse> del =
      SendTestHttpRequest(running.port(), end_session);
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->status, 200);
  absl::StatusOr<TestHttpResponse> again =
      SendTestHttpRequest(running.port(), end_session);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 404);
  EXPECT_EQ(running.Call(kPing).status, 404);

  absl::StatusOr<TestHttpResponse> elsewhere =
      SendTestHttpRequest(running.port(), {.target = "/other", .body = "{}"});
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_EQ(elsewhere->status, 404);
}

TEST(DemoUpstreamTest, OldestSessionIsForgottenAtTheCap) {
  RunningDemo running({.max_sessions = 2});
  ASSERT_TRUE(running.ok());
  std::string a = OpenSession(running.port());
  std::string b = OpenSession(running.port());
  std::string c = OpenSession(running.port());
  EXPECT_EQ(running.Call(kPing).status, 404);  // opened first
  EXPECT_EQ(running.Call(kPing, &a).status, 404);
  EXPECT_EQ(running.Call(kPing, &b).status, 200);
  EXPECT_EQ(running.Call(kPing, &c).status, 200);
}

}  // namespace
}  // namespace shadowcat
