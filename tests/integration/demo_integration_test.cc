// The README's first experience: Shadowcat with its built-in demo upstream,
// driven through the gRPC API exactly as the CLI does.

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

class DemoIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.demo_upstream = true;
    shadowcat_ = StartShadowcat({}, {}, options);
    ASSERT_NE(shadowcat_.server, nullptr);
    v1::OpenSessionRequest request;
    request.set_upstream_url(shadowcat_.server->demo_upstream_url());
    v1::OpenSessionResponse response;
    grpc::Status status =
        shadowcat_.stub->OpenSession(Ctx().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.protocol_version(), "2025-11-25");
    EXPECT_THAT(response.server_info_json(), HasSubstr("shadowcat-demo"));
    session_ = response.session_id();
  }

  grpc::Status Call(const std::string& method, const std::string& params,
                    v1::CallResponse* response) {
    v1::CallRequest request;
    request.set_session_id(session_);
    request.set_method(method);
    request.set_params_json(params);
    return shadowcat_.stub->Call(Ctx().get(), request, response);
  }

  TestShadowcat shadowcat_;
  std::string session_;
};

TEST_F(DemoIntegrationTest, ListsAndCallsTools) {
  v1::CallResponse tools;
  ASSERT_TRUE(Call("tools/list", "", &tools).ok());
  for (const char* name : {"\"echo\"", "\"add\"", "\"slow\""}) {
    EXPECT_THAT(tools.result_json(), HasSubstr(name));
  }
  v1::CallResponse echo;
  ASSERT_TRUE(Call("tools/call",
                   R"({"name":"echo","arguments":{"text":"héllo"}})", &echo)
                  .ok());
  EXPECT_THAT(echo.result_json(), HasSubstr("héllo"));
  v1::CallResponse add;
  ASSERT_TRUE(
      Call("tools/call", R"({"name":"add","arguments":{"a":2,"b":40}})", &add)
          .ok());
  EXPECT_THAT(add.result_json(), HasSubstr("42"));
  v1::CallResponse unknown;
  ASSERT_TRUE(
      Call("tools/call", R"({"name":"nope","arguments":{}})", &unknown).ok());
  EXPECT_EQ(unknown.error().code(), -32602);
}

TEST_F(DemoIntegrationTest, SlowToolStreamsProgressThenResult) {
  v1::CallRequest request;
  request.set_session_id(session_);
  request.set_method("tools/call");
  request.set_params_json(
      R"({"name":"slow","arguments":{"steps":3,"delay_ms":20},"_meta":{"progressToken":"t1"}})");
  auto context = Ctx();
  auto reader = shadowcat_.stub->CallStream(context.get(), request);
  std::vector<v1::CallStreamEvent> events;
  v1::CallStreamEvent event;
  while (reader->Read(&event)) events.push_back(event);
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(events.size(), 5u);
  // The handle for Cancel comes first.
  EXPECT_FALSE(events[0].started().request_id().empty());
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(events[i].message().method(), "notifications/progress");
    // PX-02: the upstream saw Shadowcat's token; the caller gets its own back.
    EXPECT_THAT(events[i].message().message_json(),
                HasSubstr("\"progressToken\":\"t1\""));
  }
  EXPECT_TRUE(events[4].has_response());
  EXPECT_FALSE(events[4].response().result_json().empty());
}

TEST_F(DemoIntegrationTest,
       PX02_TwoCallersWithTheSameProgressTokenEachSeeTheirOwn) {
  // Both backends pick "p1" on one session; upstream each request carries a
  // token of Shadowcat's, so neither sees the other's progress.
  auto run = [&](int steps, std::vector<std::string>* progress) {
    v1::CallRequest request;
    request.set_session_id(session_);
    request.set_method("tools/call");
    request.set_params_json(
        absl::StrCat(R"({"name":"slow","arguments":{"steps":)", steps,
                     R"(,"delay_ms":20},"_meta":{"progressToken":"p1"}})"));
    auto context = Ctx();
    auto reader = shadowcat_.stub->CallStream(context.get(), request);
    v1::CallStreamEvent event;
    while (reader->Read(&event)) {
      if (event.has_message())
        progress->push_back(event.message().message_json());
    }
    EXPECT_TRUE(reader->Finish().ok());
  };
  std::vector<std::string> a, b;
  std::thread first([&] { run(3, &a); });
  run(5, &b);
  first.join();
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 5u);
  for (const std::string& json : a) {
    EXPECT_THAT(json, HasSubstr(R"("progressToken":"p1")"));
    EXPECT_THAT(json, HasSubstr(R"("total":3)"));
  }
  for (const std::string& json : b) {
    EXPECT_THAT(json, HasSubstr(R"("progressToken":"p1")"));
    EXPECT_THAT(json, HasSubstr(R"("total":5)"));
  }
}

TEST_F(DemoIntegrationTest, CloseDeletesTheUpstreamSession) {
  v1::CloseSessionRequest close;
  close.set_session_id(session_);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(shadowcat_.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_TRUE(closed.upstream_deleted());
  EXPECT_EQ(
      shadowcat_.stub->CloseSession(Ctx().get(), close, &closed).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace shadowcat
