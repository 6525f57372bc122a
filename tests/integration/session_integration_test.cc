// The whole sidecar against the scriptable fake upstream: a real gRPC client, a
// real Shadowcat and a real HTTP upstream on loopback.

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

void ExpectWholeSession(bool sse) {
  FakeMcpServerOptions options;
  options.sse_by_default = sse;
  Env env = Start(options);
  std::string session = Open(env);
  ASSERT_FALSE(session.empty());

  v1::CallResponse list;
  ASSERT_TRUE(Call(env, session, "tools/list", "", &list).ok());
  EXPECT_THAT(list.result_json(), HasSubstr("\"echo\""));
  v1::CallResponse echo;
  grpc::Status status = Call(env, session, "tools/call", kEchoParams, &echo);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(echo.result_json(), HasSubstr("hi there"));

  v1::CloseSessionRequest close;
  close.set_session_id(session);
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(
      env.shadowcat.stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_TRUE(closed.upstream_deleted());

  RecordedRequest init, initialized, call, del;
  ASSERT_TRUE(env.upstream->WaitForRpc("initialize", &init));
  ASSERT_TRUE(
      env.upstream->WaitForRpc("notifications/initialized", &initialized));
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &call));
  ASSERT_TRUE(env.upstream->WaitForRpc("DELETE", &del));
  // SH-02: both media types on every POST.
  for (const RecordedRequest* r : {&init, &initialized, &call}) {
    EXPECT_THAT(r->Header("Accept"), HasSubstr("application/json"));
    EXPECT_THAT(r->Header("Accept"), HasSubstr("text/event-stream"));
  }
  // VN-01: the newest version is offered; VN-08: initialize carries no session
  // state.
  EXPECT_THAT(init.body, HasSubstr("\"protocolVersion\":\"2025-11-25\""));
  EXPECT_THAT(init.body, HasSubstr("\"name\":\"integration-test\""));
  EXPECT_EQ(init.Header("Mcp-Session-Id"), "");
  // SM-03/VN-04: every later request carries the session id and the negotiated
  // version, the DELETE included.
  for (const RecordedRequest* r : {&initialized, &call, &del}) {
    EXPECT_EQ(r->Header("Mcp-Session-Id"), "fake-session-1");
    EXPECT_EQ(r->Header("MCP-Protocol-Version"), "2025-11-25");
  }
  // PX-04: params are forwarded verbatim.
  EXPECT_THAT(call.body, HasSubstr(kEchoParams));

  // The closed session is gone.
  v1::CallResponse after;
  EXPECT_EQ(Call(env, session, "tools/list", "", &after).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(SessionIntegrationTest, WholeSessionWithJsonResponses) {
  ExpectWholeSession(false);
}

TEST(SessionIntegrationTest, WholeSessionWithSseResponses) {
  ExpectWholeSession(true);
}

// SS-02: the server ends a POST's SSE stream right after the response. The
// connection is then reused for the next call instead of being closed (and a
// new one opened for every call).
TEST(SessionIntegrationTest,
     SS02_SseResponseStreamsLeaveTheirConnectionReusable) {
  FakeMcpServerOptions options;
  options.sse_by_default = true;
  Env env = Start(options);
  std::string session = Open(env);
  ASSERT_FALSE(session.empty());
  v1::CallResponse response;
  constexpr int kCalls = 8;
  for (int i = 0; i < kCalls; ++i) {
    grpc::Status status =
        Call(env, session, "tools/call", kEchoParams, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  std::set<uint64_t> connections;
  for (const RecordedRequest& request : env.upstream->requests()) {
    if (request.rpc_method == "tools/call") {
      connections.insert(request.connection_id);
    }
  }
  // The next call may start before the server's end of the last stream
  // arrived, so a second connection can be opened; after that the two are
  // reused. Without the drain every call would need its own.
  EXPECT_LE(connections.size(), 3u)
      << connections.size() << " connections for " << kCalls << " calls";
}

TEST(SessionIntegrationTest, VN02_AcceptsOlderVersionAndSendsTheNegotiatedOne) {
  FakeMcpServerOptions options;
  options.force_version = "2025-06-18";
  Env env = Start(options);
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  v1::OpenSessionResponse response;
  ASSERT_TRUE(
      env.shadowcat.stub->OpenSession(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.protocol_version(), "2025-06-18");
  v1::CallResponse list;
  ASSERT_TRUE(Call(env, response.session_id(), "tools/list", "", &list).ok());
  RecordedRequest call;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/list", &call));
  EXPECT_EQ(call.Header("MCP-Protocol-Version"), "2025-06-18");  // VN-05
}

TEST(SessionIntegrationTest,
     VN03_RefusesUnknownVersionAndDeletesUpstreamSession) {
  FakeMcpServerOptions options;
  options.force_version = "2099-01-01";
  Env env = Start(options);
  grpc::Status status;
  Open(env, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("2099-01-01"));
  RecordedRequest del;
  ASSERT_TRUE(env.upstream->WaitForRpc("DELETE", &del));
  EXPECT_EQ(del.Header("Mcp-Session-Id"), "fake-session-1");
  // No version was agreed, so none is claimed: an empty header would be a 400
  // at a strict server, and the upstream session would leak (VN-07).
  for (const auto& [name, value] : del.headers) {
    EXPECT_FALSE(absl::EqualsIgnoreCase(name, "MCP-Protocol-Version")) << value;
  }
}

TEST(SessionIntegrationTest, CallerMayOfferAnOlderVersion) {
  Env env = Start();
  grpc::Status status;
  Open(env, &status, "2025-03-26");
  ASSERT_TRUE(status.ok());
  RecordedRequest init;
  ASSERT_TRUE(env.upstream->WaitForRpc("initialize", &init));
  EXPECT_THAT(init.body, HasSubstr("\"protocolVersion\":\"2025-03-26\""));
  Open(env, &status, "1999-01-01");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(SessionIntegrationTest, UpstreamNotOnAllowlistIsPermissionDenied) {
  Env env = Start();
  v1::OpenSessionRequest request;
  request.set_upstream_url("http://169.254.169.254/latest/meta-data");
  v1::OpenSessionResponse response;
  grpc::Status status =
      env.shadowcat.stub->OpenSession(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A sibling path of the allowed endpoint is not allowed either.
  request.set_upstream_url(env.upstream->url() + "x");
  status = env.shadowcat.stub->OpenSession(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(env.upstream->requests().size(), 0u);
  std::string metrics = env.shadowcat.server->metrics().Serialize();
  EXPECT_EQ(MetricValue(metrics, "shadowcat_allowlist_denials_total"), 2);
}

TEST(SessionIntegrationTest, HeaderInjectionIsRefused) {
  Env env = Start();
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  (*request.mutable_headers())["X-Evil"] = "a\r\nInjected: 1";
  v1::OpenSessionResponse response;
  EXPECT_EQ(env.shadowcat.stub->OpenSession(Ctx().get(), request, &response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.mutable_headers()->clear();
  (*request.mutable_headers())["Mcp-Session-Id"] = "stolen";  // PX-03
  EXPECT_EQ(env.shadowcat.stub->OpenSession(Ctx().get(), request, &response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(SessionIntegrationTest, CallerHeadersGoOnEveryRequest) {
  Env env = Start();
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  (*request.mutable_headers())["Authorization"] = "Bearer t0ken";
  v1::OpenSessionResponse response;
  ASSERT_TRUE(
      env.shadowcat.stub->OpenSession(Ctx().get(), request, &response).ok());
  v1::CloseSessionRequest close;
  close.set_session_id(response.session_id());
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(
      env.shadowcat.stub->CloseSession(Ctx().get(), close, &closed).ok());
  ASSERT_TRUE(env.upstream->WaitForRequestCount(3));
  for (const RecordedRequest& r : env.upstream->requests()) {
    EXPECT_EQ(r.Header("Authorization"), "Bearer t0ken")
        << r.http_method << " " << r.rpc_method;
  }
}

TEST(SessionIntegrationTest, BadParamsJsonIsInvalidArgument) {
  Env env = Start();
  std::string session = Open(env);
  v1::CallResponse response;
  EXPECT_EQ(
      Call(env, session, "tools/call", "{\"name\":", &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Call(env, session, "tools/call", "42", &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Call(env, session, "", "", &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(MetricValue(env.shadowcat.server->metrics().Serialize(),
                        "shadowcat_parse_errors_total{source=\"caller_json\"}"),
            2);
}

TEST(SessionIntegrationTest, PX04_NumbersAndKeyOrderSurviveTheRoundTrip) {
  Env env = Start();
  std::string session = Open(env);
  const std::string result =
      R"({"z":1,"a":12345678901234567890123,"m":1e400,"s":"\u00e9"})";
  ScriptedReply reply;
  reply.result_json = result;
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  EXPECT_EQ(response.result_json(), result);
}

TEST(SessionIntegrationTest, JsonRpcErrorIsReturnedVerbatim) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.error_json =
      R"({"code":-32602,"message":"Unknown tool: nope","data":{"x":[1,2]}})";
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.error().code(), -32602);
  EXPECT_EQ(response.error().message(), "Unknown tool: nope");
  EXPECT_EQ(response.error().data_json(), R"({"x":[1,2]})");
}

TEST(SessionIntegrationTest, SH07_HttpErrorWithJsonRpcBodySurfacesTheError) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.status = 400;
  reply.error_json = R"({"code":-32600,"message":"bad request shape"})";
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  // The HTTP status decides the code; the JSON-RPC error is the message's
  // core, verbatim (upstream_errors_test checks the details and trailers).
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("JSON-RPC error -32600: bad request shape"));
  EXPECT_FALSE(response.has_error());
}

TEST(SessionIntegrationTest, MalformedUpstreamJsonIsUnavailableAndCounted) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.raw_body = "{\"jsonrpc\":\"2.0\",\"id\":";
  reply.content_type = "application/json";
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("invalid response"));
  EXPECT_EQ(
      MetricValue(env.shadowcat.server->metrics().Serialize(),
                  "shadowcat_parse_errors_total{source=\"upstream_json\"}"),
      1);
}

TEST(SessionIntegrationTest, BadSseEventIsDroppedAndTheStreamGoesOn) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {"not json at all"};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  EXPECT_THAT(response.result_json(), HasSubstr("hi there"));
  EXPECT_EQ(
      MetricValue(env.shadowcat.server->metrics().Serialize(),
                  "shadowcat_parse_errors_total{source=\"upstream_json\"}"),
      1);
}

TEST(SessionIntegrationTest, StreamEndingBeforeTheResponseFailsTheCall) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;
  reply.abort_after_head = true;
  reply.messages_before = {
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{}})"};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  EXPECT_EQ(
      Call(env, session, "tools/call", kEchoParams, &response).error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST(SessionIntegrationTest, Upstream5xxIsUnavailable) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.status = 503;
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("503"));
}

TEST(SessionIntegrationTest, SH06_AcceptedWithoutResponseFailsTheCall) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.status = 202;
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  EXPECT_EQ(
      Call(env, session, "tools/call", kEchoParams, &response).error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST(SessionIntegrationTest, SH05_MediaTypeIsMatchedByEssence) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.content_type = "Application/JSON; charset=utf-8";
  env.upstream->ScriptReply("tools/list", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/list", "", &response).ok());
  EXPECT_THAT(response.result_json(), HasSubstr("echo"));
}

TEST(SessionIntegrationTest, SM05_WithoutRecoveryNotFoundEndsTheSession) {
  Config config;
  config.session_recovery = false;
  Env env = Start({}, config);
  std::string session = Open(env);
  ScriptedReply reply;
  reply.status = 404;
  env.upstream->ScriptReply("tools/list", reply);
  v1::CallResponse response;
  EXPECT_EQ(Call(env, session, "tools/list", "", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetSessionRequest get;
  get.set_session_id(session);
  v1::SessionInfo info;
  EXPECT_EQ(
      env.shadowcat.stub->GetSession(Ctx().get(), get, &info).error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(MetricValue(env.shadowcat.server->metrics().Serialize(),
                        "shadowcat_sessions_expired_total"),
            1);
}

TEST(SessionIntegrationTest, TO01_DeadlineSendsCancelledUpstream) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply slow;
  slow.delay = absl::Seconds(3);
  env.upstream->ScriptReply("tools/call", slow);
  v1::CallResponse response;
  EXPECT_EQ(Call(env, session, "tools/call", kEchoParams, &response, 200)
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  RecordedRequest call, cancelled;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &call));
  ASSERT_TRUE(env.upstream->WaitForRpc("notifications/cancelled", &cancelled));
  // CN-01: the cancellation names the upstream id Shadowcat gave the request.
  size_t at = call.body.find("\"id\":");
  ASSERT_NE(at, std::string::npos);
  std::string id =
      call.body.substr(at + 5, call.body.find_first_of(",}", at) - at - 5);
  EXPECT_THAT(cancelled.body, HasSubstr(absl::StrCat("\"requestId\":", id)));
}

// TO-01/TO-02: each call keeps its own deadline, also when a call with a
// shorter one starts while a longer one is waiting.
TEST(SessionIntegrationTest, TO02_ShorterDeadlineStartedLaterExpiresFirst) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply slow;
  slow.delay = absl::Seconds(2);
  env.upstream->ScriptReply("tools/call", slow);
  env.upstream->ScriptReply("tools/call", slow);
  grpc::Status long_status;
  std::thread long_call([&] {
    v1::CallResponse response;
    long_status = Call(env, session, "tools/call", kEchoParams, &response,
                       /*timeout_ms=*/8000);
  });
  RecordedRequest first;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &first));
  const absl::Time start = absl::Now();
  v1::CallResponse response;
  EXPECT_EQ(Call(env, session, "tools/call", kEchoParams, &response,
                 /*timeout_ms=*/200)
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1500))
      << "the short deadline waited for the long call";
  long_call.join();
  EXPECT_TRUE(long_status.ok()) << long_status.error_message();
}

TEST(SessionIntegrationTest, NotifyReturnsOnAccepted) {
  Env env = Start();
  std::string session = Open(env);
  v1::NotifyRequest request;
  request.set_session_id(session);
  request.set_method("notifications/roots/list_changed");
  v1::NotifyResponse response;
  ASSERT_TRUE(env.shadowcat.stub->Notify(Ctx().get(), request, &response).ok());
  RecordedRequest seen;
  ASSERT_TRUE(
      env.upstream->WaitForRpc("notifications/roots/list_changed", &seen));
  EXPECT_THAT(seen.body, Not(HasSubstr("\"id\"")));
}

TEST(SessionIntegrationTest, CallStreamDeliversMessagesBeforeTheResponse) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}})",
      // PG-02: progress for a token nobody sent is dropped.
      R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}})",
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"y"}})"};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method("tools/call");
  request.set_params_json(kEchoParams);
  request.set_request_id("my-call-1");
  auto context = Ctx();
  auto reader = env.shadowcat.stub->CallStream(context.get(), request);
  std::vector<v1::CallStreamEvent> events;
  v1::CallStreamEvent event;
  while (reader->Read(&event)) events.push_back(event);
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].started().request_id(), "my-call-1");
  EXPECT_EQ(events[1].message().method(), "notifications/message");
  EXPECT_THAT(events[1].message().message_json(), HasSubstr("\"x\""));
  EXPECT_THAT(events[2].message().message_json(), HasSubstr("\"y\""));
  EXPECT_THAT(events[3].response().result_json(), HasSubstr("hi there"));
}

TEST(SessionIntegrationTest, PI01_ServerPingOnTheStreamIsAnsweredBySidecar) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {R"({"jsonrpc":"2.0","id":"srv-1","method":"ping"})"};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  RecordedRequest answer;
  ASSERT_TRUE(env.upstream->WaitForResponseTo(R"("srv-1")", &answer));
  EXPECT_THAT(answer.body, HasSubstr(R"("id":"srv-1","result":{})"));
}

TEST(SessionIntegrationTest, LC04_BackendAnswersAServerRequestWithRespond) {
  Env env = Start();
  std::string session = Open(env);
  ScriptedReply reply;
  reply.sse = true;
  reply.messages_before = {
      R"({"jsonrpc":"2.0","id":"srv-7","method":"roots/list","params":{}})"};
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method("tools/call");
  request.set_params_json(kEchoParams);
  auto context = Ctx();
  auto reader = env.shadowcat.stub->CallStream(context.get(), request);
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(event.has_started());
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_EQ(event.message().method(), "roots/list");
  EXPECT_THAT(event.message().message_json(), HasSubstr("\"srv-7\""));

  v1::RespondRequest respond;
  respond.set_session_id(session);
  respond.set_request_id_json("\"srv-7\"");
  respond.set_result_json(R"({"roots":[]})");
  v1::RespondResponse responded;
  grpc::Status status =
      env.shadowcat.stub->Respond(Ctx().get(), respond, &responded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  while (reader->Read(&event)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
  bool answered = false;
  for (const RecordedRequest& r : env.upstream->requests()) {
    answered |=
        r.body == R"({"jsonrpc":"2.0","id":"srv-7","result":{"roots":[]}})";
  }
  EXPECT_TRUE(answered);

  // Answered once; a second answer has nothing to answer.
  EXPECT_EQ(env.shadowcat.stub->Respond(Ctx().get(), respond, &responded)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (const char* bad : {"null", "1.5", "1e3", "01", "-", "{}"}) {
    respond.set_request_id_json(bad);
    EXPECT_EQ(env.shadowcat.stub->Respond(Ctx().get(), respond, &responded)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
}

TEST(SessionIntegrationTest, PX01_ConcurrentCallersGetDistinctUpstreamIds) {
  Env env = Start();
  std::string session = Open(env);
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&env, &session, i] {
      v1::CallResponse response;
      std::string params = absl::StrCat(
          R"({"name":"echo","arguments":{"text":"caller )", i, R"("}})");
      grpc::Status status = Call(env, session, "tools/call", params, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_THAT(response.result_json(),
                  HasSubstr(absl::StrCat("caller ", i)));
    });
  }
  for (auto& t : callers) t.join();
  std::set<std::string> ids;
  for (const RecordedRequest& r : env.upstream->requests()) {
    if (r.rpc_method != "tools/call") continue;
    size_t at = r.body.find("\"id\":");
    ids.insert(r.body.substr(at, r.body.find_first_of(",}", at) - at));
  }
  EXPECT_EQ(ids.size(), 8u);
}

TEST(SessionIntegrationTest, PX05_PerSessionLimitFailsFast) {
  Config config;
  config.max_connections_per_session = 1;
  config.max_connections_total = 1;
  Env env = Start({}, config);
  std::string session = Open(env);
  ScriptedReply slow;
  slow.delay = absl::Seconds(1);
  env.upstream->ScriptReply("tools/call", slow);
  std::thread first([&] {
    v1::CallResponse response;
    EXPECT_TRUE(Call(env, session, "tools/call", kEchoParams, &response).ok());
  });
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", nullptr));
  v1::CallResponse response;
  EXPECT_EQ(Call(env, session, "tools/list", "", &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  first.join();
  EXPECT_TRUE(Call(env, session, "tools/list", "", &response).ok());
  EXPECT_EQ(
      MetricValue(
          env.shadowcat.server->metrics().Serialize(),
          "shadowcat_limit_rejections_total{limit=\"session_connections\"}"),
      1);
}

// PX-05 at the default limit of 10 upstream connections per session: the GET
// stream counts, and twenty callers racing for the nine slots left get
// exactly nine (no check-then-act window); the other eleven are refused at
// once, not queued (the nine are held until all twenty have answers).
TEST(SessionIntegrationTest,
     PX05_TwentyRacingCallersGetExactlyTheNineSlotsLeft) {
  FakeMcpServerOptions options;
  options.standalone_get.enabled = true;
  Env env = Start(options);
  std::string session = OpenWithServerStream(env);
  ASSERT_TRUE(env.upstream->WaitForGetStreamOpen());
  constexpr int kCallers = 20;
  for (int i = 0; i < kCallers; ++i) {
    ScriptedReply held;
    held.sse = true;
    held.hold = "held";
    env.upstream->ScriptReply("tools/call", held);
  }
  std::atomic<int> admitted{0}, refused{0}, finished_ok{0};
  std::vector<std::string> refusals(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      auto context = Ctx();
      auto reader =
          env.shadowcat.stub->CallStream(context.get(), EchoCall(session));
      v1::CallStreamEvent event;
      if (reader->Read(&event)) {
        admitted.fetch_add(1);
        while (reader->Read(&event)) {
        }
        if (reader->Finish().ok()) finished_ok.fetch_add(1);
        return;
      }
      grpc::Status status = reader->Finish();
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        refused.fetch_add(1);
      }
      refusals[i] = status.error_message();
    });
  }
  EXPECT_TRUE(
      Eventually([&] { return admitted.load() + refused.load() == kCallers; },
                 absl::Seconds(8)));
  EXPECT_EQ(admitted.load(), 9);
  EXPECT_EQ(refused.load(), 11);
  env.upstream->Release("held");
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(finished_ok.load(), 9);
  EXPECT_EQ(MetricValue(Metrics(env),
                        "shadowcat_limit_rejections_total{limit="
                        "\"session_connections\"}"),
            11);
  for (const std::string& refusal : refusals) {
    if (!refusal.empty()) {
      EXPECT_THAT(refusal, HasSubstr("--max_connections_per_session"));
    }
  }
}

TEST(SessionIntegrationTest, SessionLimitIsResourceExhausted) {
  Config config;
  config.max_sessions = 1;
  Env env = Start({}, config);
  Open(env);
  grpc::Status status;
  Open(env, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(SessionIntegrationTest, OversizedResponseIsResourceExhausted) {
  Config config;
  config.max_message_bytes = 4096;
  Env env = Start({}, config);
  std::string session = Open(env);
  ScriptedReply big;
  big.result_json =
      absl::StrCat("{\"blob\":\"", std::string(10000, 'x'), "\"}");
  env.upstream->ScriptReply("tools/call", big);
  v1::CallResponse response;
  EXPECT_EQ(
      Call(env, session, "tools/call", kEchoParams, &response).error_code(),
      grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The session stays usable.
  EXPECT_TRUE(Call(env, session, "tools/list", "", &response).ok());
  // PX-06: the same for one SSE event over the limit; its stream is closed.
  big.sse = true;
  env.upstream->ScriptReply("tools/call", big);
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("SSE event exceeds"));
  EXPECT_EQ(Describe(env, session).streams_size(), 0);
  EXPECT_TRUE(Call(env, session, "tools/list", "", &response).ok());
}

TEST(SessionIntegrationTest, UnreachableUpstreamIsUnavailable) {
  // Allowed but nothing listens there.
  TestShadowcat shadowcat = StartShadowcat({"http://127.0.0.1:1/mcp"});
  v1::OpenSessionRequest request;
  request.set_upstream_url("http://127.0.0.1:1/mcp");
  v1::OpenSessionResponse response;
  EXPECT_EQ(
      shadowcat.stub->OpenSession(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST(SessionIntegrationTest, ListAndGetSessions) {
  Env env = Start();
  std::string a = Open(env);
  std::string b = Open(env);
  v1::ListSessionsResponse list;
  ASSERT_TRUE(env.shadowcat.stub->ListSessions(Ctx().get(), {}, &list).ok());
  EXPECT_EQ(list.sessions_size(), 2);
  v1::GetSessionRequest get;
  get.set_session_id(a);
  v1::SessionInfo info;
  ASSERT_TRUE(env.shadowcat.stub->GetSession(Ctx().get(), get, &info).ok());
  EXPECT_EQ(info.state(), v1::SESSION_STATE_OPEN);
  EXPECT_EQ(info.protocol_version(), "2025-11-25");
  EXPECT_TRUE(info.has_upstream_session());
  EXPECT_EQ(info.upstream_url(), env.upstream->url());
  EXPECT_NE(a, b);
}

TEST(SessionIntegrationTest, CancelAndSubscribeNeedAKnownSession) {
  Env env = Start();
  v1::CancelRequest cancel;
  cancel.set_session_id("nope");
  cancel.set_request_id("x");
  v1::CancelResponse cancelled;
  EXPECT_EQ(
      env.shadowcat.stub->Cancel(Ctx().get(), cancel, &cancelled).error_code(),
      grpc::StatusCode::NOT_FOUND);
  cancel.clear_request_id();
  EXPECT_EQ(
      env.shadowcat.stub->Cancel(Ctx().get(), cancel, &cancelled).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  std::string session = Open(env);
  cancel.set_session_id(session);
  cancel.set_request_id("no-such-call");
  EXPECT_EQ(
      env.shadowcat.stub->Cancel(Ctx().get(), cancel, &cancelled).error_code(),
      grpc::StatusCode::NOT_FOUND);
  auto context = Ctx();
  v1::SubscribeRequest subscribe;
  subscribe.set_session_id("nope");
  auto reader = env.shadowcat.stub->Subscribe(context.get(), subscribe);
  v1::ServerMessage message;
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(SessionIntegrationTest, AdminEndpointsAndMetrics) {
  Env env = Start();
  std::string session = Open(env);
  v1::CallResponse response;
  ASSERT_TRUE(Call(env, session, "tools/list", "", &response).ok());
  const uint16_t admin = env.shadowcat.server->admin_port();
  EXPECT_EQ(*HttpGet(admin, "/healthz"), "200 ok\n");
  EXPECT_EQ(*HttpGet(admin, "/readyz"), "200 ready\n");
  absl::StatusOr<std::string> metrics = HttpGet(admin, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_TRUE(absl::StartsWith(*metrics, "200 "));
  EXPECT_EQ(MetricValue(*metrics, "shadowcat_sessions_active"), 1);
  EXPECT_EQ(MetricValue(*metrics, "shadowcat_sessions_opened_total"), 1);
  EXPECT_EQ(MetricValue(*metrics,
                        "shadowcat_upstream_requests_total{method=\"tools/"
                        "list\",outcome=\"ok\"}"),
            1);
  EXPECT_EQ(MetricValue(*metrics,
                        "shadowcat_upstream_requests_total{method="
                        "\"initialize\",outcome=\"ok\"}"),
            1);
  EXPECT_THAT(*metrics, Not(HasSubstr(session)));  // no ids in labels
}

TEST(SessionIntegrationTest, HealthServiceServes) {
  Env env = Start();
  auto channel = grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", env.shadowcat.server->grpc_port()),
      grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  // grpc.health.v1.Health/Check with an empty HealthCheckRequest: an empty
  // body.
  grpc::ByteBuffer request_buffer, response_buffer;
  grpc::Slice empty("");
  request_buffer = grpc::ByteBuffer(&empty, 1);
  auto context = Ctx();
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(
      context.get(), "/grpc.health.v1.Health/Check", request_buffer, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response_buffer, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response_buffer.Dump(&slices).ok());
  // HealthCheckResponse{status: SERVING (1)} encodes as 08 01.
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(slices[0].begin()),
                        slices[0].size()),
            std::string("\x08\x01", 2));
}

}  // namespace
}  // namespace shadowcat
