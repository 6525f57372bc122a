// LG-01..LG-04: an upstream of the legacy HTTP+SSE transport (2024-11-05) is
// reached through the fallback: the refused Streamable HTTP initialize, a GET
// whose `endpoint` event names where POSTs go, responses on the SSE stream.

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_legacy_server.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

grpc::Status Open(TestShadowcat& sc, const std::string& url,
                  v1::OpenSessionResponse* opened) {
  v1::OpenSessionRequest open;
  open.set_upstream_url(url);
  return sc.stub->OpenSession(Ctx().get(), open, opened);
}

grpc::Status Call(TestShadowcat& sc, const std::string& session,
                  const std::string& method, const std::string& params,
                  v1::CallResponse* response) {
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method(method);
  request.set_params_json(params);
  return sc.stub->Call(Ctx().get(), request, response);
}

v1::SessionInfo Describe(TestShadowcat& sc, const std::string& session) {
  v1::GetSessionRequest request;
  request.set_session_id(session);
  v1::SessionInfo info;
  grpc::Status status = sc.stub->GetSession(Ctx().get(), request, &info);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return info;
}

bool SentGet(const FakeLegacyServer& upstream) {
  for (const std::string& request : upstream.requests()) {
    if (absl::StartsWith(request, "GET ")) return true;
  }
  return false;
}

TEST(LegacyTransportTest, LG02_A405OnInitializeFallsBackAndEverythingWorks) {
  FakeLegacyServer upstream;
  TestShadowcat sc = StartShadowcat({upstream.url()});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open(sc, upstream.url(), &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.transport(), v1::UPSTREAM_TRANSPORT_LEGACY_HTTP_SSE);
  EXPECT_EQ(opened.protocol_version(), "2024-11-05");
  EXPECT_THAT(opened.server_info_json(), HasSubstr("fake-legacy"));
  const std::string session = opened.session_id();

  v1::CallResponse tools;
  status = Call(sc, session, "tools/list", "{}", &tools);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(tools.result_json(), HasSubstr("\"echo\""));

  // Two calls at once: each response finds its caller on the one stream.
  v1::CallResponse first;
  v1::CallResponse second;
  grpc::Status first_status;
  std::thread other([&] {
    first_status =
        Call(sc, session, "tools/call",
             R"({"name":"echo","arguments":{"text":"one"}})", &first);
  });
  status = Call(sc, session, "tools/call",
                R"({"name":"echo","arguments":{"text":"two"}})", &second);
  other.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  EXPECT_THAT(first.result_json(), HasSubstr("\"one\""));
  EXPECT_THAT(second.result_json(), HasSubstr("\"two\""));

  v1::SessionInfo info = Describe(sc, session);
  EXPECT_EQ(info.transport(), v1::UPSTREAM_TRANSPORT_LEGACY_HTTP_SSE);
  EXPECT_FALSE(info.has_upstream_session());
  EXPECT_EQ(info.server_stream(), v1::SERVER_STREAM_STATUS_OPEN);

  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(sc.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_FALSE(closed.upstream_deleted());  // nothing to DELETE in 2024-11-05

  // VN-11 then LG-02: server/discover, initialize, then the legacy stream.
  const std::vector<std::string> requests = upstream.requests();
  ASSERT_GE(requests.size(), 4u);
  EXPECT_EQ(requests[0], "POST /sse");
  EXPECT_EQ(requests[1], "POST /sse");
  EXPECT_EQ(requests[2], "GET /sse");
  EXPECT_EQ(requests[3], "POST /messages?session_id=1");
  for (const std::string& request : requests) {
    EXPECT_THAT(request, Not(HasSubstr("DELETE")));
  }
  EXPECT_THAT(upstream.posted_methods(),
              ElementsAre("initialize", "notifications/initialized",
                          "tools/list", "tools/call", "tools/call"));
}

TEST(LegacyTransportTest, LG01_ProgressReachesTheCallStreamByItsToken) {
  FakeLegacyServer upstream;
  TestShadowcat sc = StartShadowcat({upstream.url()});
  v1::OpenSessionResponse opened;
  ASSERT_TRUE(Open(sc, upstream.url(), &opened).ok());

  v1::CallRequest request;
  request.set_session_id(opened.session_id());
  request.set_method("tools/call");
  request.set_params_json(
      R"({"name":"echo","arguments":{"text":"p"},"_meta":{"progressToken":"mine"}})");
  auto context = Ctx();
  auto reader = sc.stub->CallStream(context.get(), request);
  std::vector<std::string> progress;
  bool responded = false;
  v1::CallStreamEvent event;
  while (reader->Read(&event)) {
    if (event.has_message()) progress.push_back(event.message().message_json());
    if (event.has_response()) responded = true;
  }
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(responded);
  ASSERT_EQ(progress.size(), 1u);
  // PX-02: the caller's own token, not Shadowcat's upstream one.
  EXPECT_THAT(progress[0], HasSubstr(R"("progressToken":"mine")"));
}

class LegacyFallbackStatusTest : public ::testing::TestWithParam<int> {};

TEST_P(LegacyFallbackStatusTest, LG02_FallsBackOn400_404And405) {
  FakeLegacyServerOptions options;
  options.streamable_post_status = GetParam();
  FakeLegacyServer upstream(options);
  TestShadowcat sc = StartShadowcat({upstream.url()});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open(sc, upstream.url(), &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(opened.transport(), v1::UPSTREAM_TRANSPORT_LEGACY_HTTP_SSE);
}

INSTANTIATE_TEST_SUITE_P(Statuses, LegacyFallbackStatusTest,
                         ::testing::Values(400, 404, 405));

TEST(LegacyTransportTest, LG02_A401IsNotAFallbackSignal) {
  FakeLegacyServerOptions options;
  options.streamable_post_status = 401;
  FakeLegacyServer upstream(options);
  TestShadowcat sc = StartShadowcat({upstream.url()});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open(sc, upstream.url(), &opened);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
  EXPECT_FALSE(SentGet(upstream));
}

TEST(LegacyTransportTest, LG02_TheFallbackCanBeTurnedOff) {
  FakeLegacyServer upstream;
  Config config;
  config.legacy_sse_fallback = false;
  TestShadowcat sc = StartShadowcat({upstream.url()}, config);
  v1::OpenSessionResponse opened;
  grpc::Status status = Open(sc, upstream.url(), &opened);
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(SentGet(upstream));
}

TEST(LegacyTransportTest, LG02_AFailedFallbackKeepsTheFirstError) {
  // Not a legacy server either: its GET answers 404 as well.
  FakeLegacyServerOptions options;
  options.streamable_post_status = 404;
  FakeLegacyServer upstream(options);
  const std::string url =
      absl::StrCat("http://127.0.0.1:", upstream.port(), "/nothing-here");
  TestShadowcat sc = StartShadowcat({url});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open(sc, url, &opened);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(),
              HasSubstr("the legacy HTTP+SSE fallback failed too"));
  EXPECT_THAT(upstream.requests(),
              ElementsAre("POST /nothing-here", "POST /nothing-here",
                          "GET /nothing-here"));
}

TEST(LegacyTransportTest, LG03_AnEndpointOnAnotherOriginIsRefused) {
  FakeLegacyServer elsewhere;
  FakeLegacyServerOptions options;
  options.endpoint =
      absl::StrCat("http://127.0.0.1:", elsewhere.port(), "/messages");
  FakeLegacyServer upstream(options);
  TestShadowcat sc = StartShadowcat({upstream.url(), elsewhere.url()});
  v1::OpenSessionResponse opened;
  grpc::Status status = Open(sc, upstream.url(), &opened);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("another origin"));
  EXPECT_TRUE(elsewhere.requests().empty());
  EXPECT_TRUE(upstream.posted_methods().empty());
}

// The body POSTed to the endpoint for the first message of `method`, or "".
std::string PostedBody(const FakeLegacyServer& upstream,
                       const std::string& method) {
  const std::vector<std::string> methods = upstream.posted_methods();
  const std::vector<std::string> bodies = upstream.posted_bodies();
  for (size_t i = 0; i < methods.size() && i < bodies.size(); ++i) {
    if (methods[i] == method) return bodies[i];
  }
  return "";
}

// Waits until a message of `method` was POSTed to the endpoint.
bool WaitForPosted(const FakeLegacyServer& upstream,
                   const std::string& method) {
  for (int i = 0; i < 500; ++i) {
    if (!PostedBody(upstream, method).empty()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// CN-01 on the legacy transport: cancelling is a notifications/cancelled
// POSTed to the endpoint, naming the request's id; its response could only
// have come on the one SSE stream, which stays up.
TEST(LegacyTransportTest, CN01_ACancelIsPostedToTheEndpoint) {
  FakeLegacyServer upstream;
  TestShadowcat sc = StartShadowcat({upstream.url()});
  v1::OpenSessionResponse opened;
  ASSERT_TRUE(Open(sc, upstream.url(), &opened).ok());
  const std::string session = opened.session_id();

  grpc::Status held_status;
  std::thread waiting([&] {
    v1::CallRequest request;
    request.set_session_id(session);
    request.set_method("hold");
    request.set_params_json("{}");
    request.set_request_id("held-1");
    v1::CallResponse held;
    held_status = sc.stub->Call(Ctx().get(), request, &held);
  });
  ASSERT_TRUE(WaitForPosted(upstream, "hold"));
  v1::CancelRequest cancel;
  cancel.set_session_id(session);
  cancel.set_request_id("held-1");
  cancel.set_reason("no longer needed");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(sc.stub->Cancel(Ctx().get(), cancel, &cancelled).ok());
  waiting.join();
  EXPECT_EQ(held_status.error_code(), grpc::StatusCode::CANCELLED);

  ASSERT_TRUE(WaitForPosted(upstream, "notifications/cancelled"));
  const std::string hold = PostedBody(upstream, "hold");
  const std::string id = hold.substr(hold.find("\"id\":") + 5);
  const std::string notice = PostedBody(upstream, "notifications/cancelled");
  EXPECT_THAT(notice, HasSubstr("\"requestId\":" +
                                id.substr(0, id.find_first_of(",}"))));
  EXPECT_THAT(notice, HasSubstr("no longer needed"));
  EXPECT_EQ(upstream.streams_opened(), 1);
  // The session goes on.
  v1::CallResponse echo;
  ASSERT_TRUE(Call(sc, session, "tools/call",
                   R"({"name":"echo","arguments":{"text":"still"}})", &echo)
                  .ok());
}

TEST(LegacyTransportTest, LG04_ALostStreamFailsCallsAndTheSessionStartsAgain) {
  FakeLegacyServer upstream;
  TestShadowcat sc = StartShadowcat({upstream.url()});
  v1::OpenSessionResponse opened;
  ASSERT_TRUE(Open(sc, upstream.url(), &opened).ok());
  const std::string session = opened.session_id();

  grpc::Status held_status;
  v1::CallResponse held;
  std::thread waiting(
      [&] { held_status = Call(sc, session, "hold", "{}", &held); });
  EXPECT_TRUE(WaitForPosted(upstream, "hold"));
  upstream.DropStreams();
  waiting.join();
  EXPECT_EQ(held_status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << held_status.error_message();
  EXPECT_THAT(held_status.error_message(),
              HasSubstr("may or may not have run"));

  // The session re-initialized on a new stream; calls go on under the same
  // handle.
  v1::CallResponse echo;
  grpc::Status status =
      Call(sc, session, "tools/call",
           R"({"name":"echo","arguments":{"text":"again"}})", &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(echo.result_json(), HasSubstr("again"));
  EXPECT_EQ(upstream.streams_opened(), 2);
  EXPECT_EQ(Describe(sc, session).reinitializations(), 1u);
}

}  // namespace
}  // namespace shadowcat
