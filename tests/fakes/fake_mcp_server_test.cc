#include "tests/fakes/fake_mcp_server.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

}  // namespace
}  // namespace shadowcat
