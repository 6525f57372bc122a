// Real-server tolerance (issue 6 item 6) against the fake upstream: 2025-03-26
// batches (BA-01/BA-04) and compressed responses (PX-07). Redirects (PX-08)
// are in redirect_test.cc.

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kBatchedPing[] =
    R"({"jsonrpc":"2.0","id":"srv-ping","method":"ping"})";

// A tools/call answered with [server ping, response] as one batch, as JSON or
// as one SSE event's data.
ScriptedReply BatchReply(bool sse) {
  ScriptedReply reply;
  reply.batch = true;
  reply.sse = sse;
  reply.messages_before = {kBatchedPing};
  reply.result_json = R"({"content":[],"batched":true})";
  return reply;
}

void ExpectBatchDemultiplexed(bool sse) {
  FakeMcpServerOptions options;
  options.force_version = "2025-03-26";
  Env env = Start(options);
  const std::string session = Open(env, nullptr, "2025-03-26");
  env.upstream->ScriptReply("tools/call", BatchReply(sse));
  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The response element reached its caller by id ...
  EXPECT_EQ(response.result_json(), R"({"content":[],"batched":true})");
  // ... and the request element was handled on its own: Shadowcat answers a
  // server ping itself (PI-01).
  RecordedRequest pong;
  ASSERT_TRUE(env.upstream->WaitForResponseTo(R"("srv-ping")", &pong));
  EXPECT_THAT(pong.body, HasSubstr(R"("result":{})"));
}

TEST(RealServerToleranceTest, BA01_BatchedJsonResponseOn20250326) {
  ExpectBatchDemultiplexed(/*sse=*/false);
}

TEST(RealServerToleranceTest, BA01_BatchedSseDataOn20250326) {
  ExpectBatchDemultiplexed(/*sse=*/true);
}

// BA-04: from 2025-06-18 on, an array is a broken answer, said clearly.
TEST(RealServerToleranceTest, BA04_BatchOnLaterVersionsIsABadResponse) {
  Env env = Start();
  const std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", BatchReply(/*sse=*/false));
  v1::CallResponse response;
  grpc::Status status =
      Call(env, session, "tools/call", kEchoParams, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              HasSubstr("upstream sent an invalid response: a JSON-RPC batch"));
  EXPECT_THAT(status.error_message(), HasSubstr("2025-03-26"));
}

// --- Content-Encoding (PX-07) ---------------------------------------------

ScriptedReply Encoded(std::string coding, bool sse = false) {
  ScriptedReply reply;
  reply.content_encoding = std::move(coding);
  reply.sse = sse;
  return reply;
}

double ParseErrors(Env& env, absl::string_view source) {
  return MetricValue(
      Metrics(env),
      absl::StrCat("shadowcat_parse_errors_total{source=\"", source, "\"}"));
}

double BadResponses(Env& env) {
  return MetricValue(Metrics(env),
                     "shadowcat_upstream_requests_total{method=\"tools/"
                     "call\",outcome=\"bad_response\"}");
}

TEST(RealServerToleranceTest, PX07_GzipJsonResponsesFromInitializeOn) {
  Env env = Start();
  env.upstream->ScriptReply("initialize", Encoded("gzip"));
  const std::string session = Open(env);
  ASSERT_FALSE(session.empty());
  for (const char* coding : {"gzip", "x-gzip", "deflate", "br"}) {
    SCOPED_TRACE(coding);
    env.upstream->ScriptReply("tools/call", Encoded(coding));
    v1::CallResponse response;
    grpc::Status status = CallEcho(env, session, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(response.result_json(), HasSubstr("hi there"));
  }
  // PX-07: advertised, since it is decoded.
  RecordedRequest call;
  ASSERT_TRUE(env.upstream->WaitForRpc("tools/call", &call));
  EXPECT_EQ(call.Header("Accept-Encoding"), "gzip, deflate, br");
}

// The acceptance test of PX-07: a gzip SSE stream parses incrementally. The
// fake flushes per event and cuts the compressed bytes at odd boundaries; the
// backend reads the notifications while the response is still held back.
TEST(RealServerToleranceTest, PX07_GzipSseStreamParsesIncrementally) {
  Env env = Start();
  const std::string session = Open(env);
  ScriptedReply reply = Encoded("gzip", /*sse=*/true);
  for (int i = 0; i < 3; ++i) {
    reply.messages_before.push_back(
        absl::StrCat(R"({"jsonrpc":"2.0","method":"notifications/message",)",
                     R"("params":{"level":"info","data":"step )", i, R"("}})"));
  }
  reply.hold = "respond";
  env.upstream->ScriptReply("tools/call", reply);
  auto context = Ctx();
  auto reader =
      env.shadowcat.stub->CallStream(context.get(), EchoCall(session));
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(event.has_started());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_THAT(event.message().message_json(),
                HasSubstr(absl::StrCat("step ", i)));
  }
  env.upstream->Release("respond");
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_THAT(event.response().result_json(), HasSubstr("hi there"));
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// A gzip stream cut mid-way resumes with GET + Last-Event-ID like any other
// (RZ-02); the resumed connection starts a new, uncompressed body.
TEST(RealServerToleranceTest, PX07_DroppedGzipSseStreamResumes) {
  Env env = Start();
  const std::string session = Open(env);
  ScriptedReply reply = Encoded("gzip", /*sse=*/true);
  reply.priming = true;
  reply.messages_before = {
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"a"}})"};
  reply.drop_after_events = 2;
  env.upstream->ScriptReply("tools/call", reply);
  v1::CallResponse response;
  grpc::Status status = CallEcho(env, session, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(response.result_json(), HasSubstr("hi there"));
  RecordedRequest resume;
  ASSERT_TRUE(env.upstream->WaitForRpc("GET", &resume));
  EXPECT_FALSE(resume.Header("Last-Event-ID").empty());
}

TEST(RealServerToleranceTest, PX07_CorruptGzipIsABadResponseAndCounted) {
  Env env = Start();
  const std::string session = Open(env);
  for (bool sse : {false, true}) {
    SCOPED_TRACE(sse ? "sse" : "json");
    ScriptedReply corrupt;
    corrupt.raw_body = "this body is not gzip at all";
    corrupt.content_type = sse ? "text/event-stream" : "application/json";
    corrupt.extra_headers = {{"Content-Encoding", "gzip"}};
    env.upstream->ScriptReply("tools/call", corrupt);
    grpc::Status status = CallEcho(env, session);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(status.error_message(),
                HasSubstr("upstream sent an invalid response: corrupt gzip "
                          "body"));
    EXPECT_EQ(ParseErrors(env, sse ? "upstream_sse" : "upstream_json"), 1);
  }
  EXPECT_EQ(BadResponses(env), 2);
  // The session is fine: the next answer is decoded as usual.
  env.upstream->ScriptReply("tools/call", Encoded("gzip"));
  grpc::Status status = CallEcho(env, session);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(RealServerToleranceTest, PX07_UnknownEncodingIsRefusedByName) {
  Env env = Start();
  const std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", Encoded("compress"));
  grpc::Status status = CallEcho(env, session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              HasSubstr("Content-Encoding \"compress\" is not supported"));
  EXPECT_EQ(ParseErrors(env, "upstream_json"), 1);
  EXPECT_EQ(BadResponses(env), 1);
}

// A decompression bomb meets the same limits as a plain body: 8 MiB that
// compress to a few KiB end at --max_message_bytes, as JSON or as one event.
TEST(RealServerToleranceTest, PX07_BombHitsTheMessageLimit) {
  Config config;
  config.max_message_bytes = 1 << 20;
  Env env = Start({}, config);
  const std::string session = Open(env);
  const std::string huge =
      absl::StrCat(R"({"jsonrpc":"2.0","id":2,"result":{"pad":")",
                   std::string(8 << 20, ' '), R"("}})");
  for (bool sse : {false, true}) {
    SCOPED_TRACE(sse ? "sse" : "json");
    ScriptedReply bomb = Encoded("gzip");
    bomb.content_type = sse ? "text/event-stream" : "application/json";
    bomb.raw_body =
        sse ? absl::StrCat("event: message\ndata: ", huge, "\n\n") : huge;
    env.upstream->ScriptReply("tools/call", bomb);
    grpc::Status status = CallEcho(env, session);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(status.error_message(), HasSubstr("exceeds 1048576 bytes"));
  }
}

// An error answer's compressed body is decoded too, so SH-07 still finds the
// JSON-RPC error in it, and the HTTP status still picks the code.
TEST(RealServerToleranceTest, PX07_GzipErrorBodyKeepsItsStatusAndError) {
  Env env = Start();
  const std::string session = Open(env);
  ScriptedReply refused = Encoded("gzip");
  refused.status = 401;
  refused.error_json = R"({"code":-32001,"message":"token expired"})";
  env.upstream->ScriptReply("tools/call", refused);
  grpc::Status status = CallEcho(env, session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("JSON-RPC error -32001: token expired"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("invalid response")));
}

}  // namespace
}  // namespace shadowcat
