// Honest errors (issue 6 item 5): every HTTP error answer of the upstream, on
// initialize and on later requests, reaches a real gRPC client with the code
// of the one table (core/session/upstream_http_error.cc), its JSON-RPC error
// verbatim (SH-07), and the HTTP status, Retry-After and WWW-Authenticate both
// as google.rpc details and as plain trailers.

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A failed call as a client sees it.
struct Seen {
  grpc::Status status;
  std::map<std::string, std::string> trailers;
  google::rpc::ErrorInfo info;  // empty when the details carry none
  std::optional<int64_t> retry_delay_seconds;

  std::string Trailer(const std::string& key) const {
    auto it = trailers.find(key);
    return it == trailers.end() ? "<absent>" : it->second;
  }
  std::string Info(const std::string& key) const {
    auto it = info.metadata().find(key);
    return it == info.metadata().end() ? "<absent>" : it->second;
  }
};

Seen Read(const grpc::Status& status, const grpc::ClientContext& context) {
  Seen seen;
  seen.status = status;
  for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
    seen.trailers.emplace(std::string(key.data(), key.size()),
                          std::string(value.data(), value.size()));
  }
  google::rpc::Status rich;
  EXPECT_TRUE(rich.ParseFromString(status.error_details()));
  EXPECT_EQ(rich.code(), static_cast<int>(status.error_code()));
  for (const google::protobuf::Any& any : rich.details()) {
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&seen.info)) continue;
    if (any.UnpackTo(&retry)) {
      seen.retry_delay_seconds = retry.retry_delay().seconds();
    }
  }
  return seen;
}

Seen CallSeen(Env& env, const std::string& session) {
  std::unique_ptr<grpc::ClientContext> context = Ctx();
  v1::CallResponse response;
  grpc::Status status =
      env.shadowcat.stub->Call(context.get(), EchoCall(session), &response);
  EXPECT_FALSE(response.has_error()) << "an HTTP error is never a result";
  return Read(status, *context);
}

Seen OpenSeen(Env& env) {
  std::unique_ptr<grpc::ClientContext> context = Ctx();
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  v1::OpenSessionResponse response;
  grpc::Status status =
      env.shadowcat.stub->OpenSession(context.get(), request, &response);
  return Read(status, *context);
}

ScriptedReply JsonRpcErrorReply(int http_status) {
  ScriptedReply reply;
  reply.status = http_status;
  reply.error_json = absl::StrCat(R"({"code":-32000,"message":"refused with )",
                                  http_status, R"(","data":{"why":"test"}})");
  return reply;
}

ScriptedReply TextReply(int http_status) {
  ScriptedReply reply;
  reply.status = http_status;
  reply.raw_body = absl::StrCat("plain refusal ", http_status);
  reply.content_type = "text/plain";
  return reply;
}

struct Row {
  int http_status;
  grpc::StatusCode code;
};

// The table as the README documents it (404 has its own tests).
constexpr Row kTable[] = {
    {400, grpc::StatusCode::INVALID_ARGUMENT},
    {401, grpc::StatusCode::UNAUTHENTICATED},
    {403, grpc::StatusCode::PERMISSION_DENIED},
    {405, grpc::StatusCode::FAILED_PRECONDITION},
    {406, grpc::StatusCode::FAILED_PRECONDITION},
    {408, grpc::StatusCode::DEADLINE_EXCEEDED},
    {409, grpc::StatusCode::ABORTED},
    {410, grpc::StatusCode::NOT_FOUND},
    {413, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {415, grpc::StatusCode::FAILED_PRECONDITION},
    {418, grpc::StatusCode::FAILED_PRECONDITION},
    {422, grpc::StatusCode::INVALID_ARGUMENT},
    {429, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {500, grpc::StatusCode::UNAVAILABLE},
    {501, grpc::StatusCode::UNIMPLEMENTED},
    {502, grpc::StatusCode::UNAVAILABLE},
    {503, grpc::StatusCode::UNAVAILABLE},
    {504, grpc::StatusCode::DEADLINE_EXCEEDED},
};

// SH-07: each status, with a JSON-RPC error body (code, message and data kept
// verbatim) and with a text body (quoted), keeps its HTTP status.
TEST(UpstreamErrorsTest, SH07_EachStatusWithEachBodyKind) {
  Env env = Start();
  const std::string session = Open(env);
  for (const bool json_body : {true, false}) {
    for (const Row& row : kTable) {
      const int http = row.http_status;
      SCOPED_TRACE(absl::StrCat(http, json_body ? " JSON-RPC" : " text"));
      env.upstream->ScriptReply(
          "tools/call", json_body ? JsonRpcErrorReply(http) : TextReply(http));
      Seen seen = CallSeen(env, session);
      EXPECT_EQ(seen.status.error_code(), row.code);
      EXPECT_THAT(seen.status.error_message(),
                  HasSubstr(absl::StrCat("upstream returned HTTP ", http,
                                         " for POST")));
      EXPECT_EQ(seen.info.reason(), "UPSTREAM_HTTP_ERROR");
      EXPECT_EQ(seen.info.domain(), "shadowcat.v1");
      EXPECT_EQ(seen.Info("http_status"), absl::StrCat(http));
      EXPECT_EQ(seen.Trailer("shadowcat-http-status"), absl::StrCat(http));
      if (!json_body) {
        EXPECT_THAT(seen.status.error_message(),
                    HasSubstr(absl::StrCat("\"plain refusal ", http, "\"")));
        EXPECT_EQ(seen.Info("jsonrpc_code"), "<absent>");
        EXPECT_EQ(seen.Trailer("shadowcat-jsonrpc-error"), "<absent>");
        continue;
      }
      EXPECT_THAT(seen.status.error_message(),
                  HasSubstr(absl::StrCat("JSON-RPC error -32000: refused with ",
                                         http)));
      EXPECT_EQ(seen.Info("jsonrpc_code"), "-32000");
      EXPECT_EQ(seen.Info("jsonrpc_message"),
                absl::StrCat("refused with ", http));
      EXPECT_EQ(seen.Info("jsonrpc_data"), R"({"why":"test"})");
      EXPECT_EQ(seen.Trailer("shadowcat-jsonrpc-error"),
                absl::StrCat(R"({"code":-32000,"message":"refused with )", http,
                             R"(","data":{"why":"test"}})"));
    }
  }
}

// A tools/call answered `http_status` with a text body and `retry_after`.
Seen CallAnsweredWithRetryAfter(int http_status,
                                const std::string& retry_after) {
  Env env = Start();
  const std::string session = Open(env);
  ScriptedReply reply = TextReply(http_status);
  reply.extra_headers.emplace_back("Retry-After", retry_after);
  env.upstream->ScriptReply("tools/call", reply);
  return CallSeen(env, session);
}

TEST(UpstreamErrorsTest, RetryAfterSecondsOn429) {
  Seen seen = CallAnsweredWithRetryAfter(429, "17");
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(seen.status.error_message(), HasSubstr("retry after 17 s"));
  EXPECT_EQ(seen.Info("retry_after_seconds"), "17");
  EXPECT_EQ(seen.retry_delay_seconds, 17);
  EXPECT_EQ(seen.Trailer("retry-after"), "17");
}

TEST(UpstreamErrorsTest, RetryAfterHttpDateOn503) {
  // Whole seconds in the future; the header has no finer resolution.
  const absl::Time at = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() + absl::Seconds(120)));
  Seen seen = CallAnsweredWithRetryAfter(
      503,
      absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", at, absl::UTCTimeZone()));
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(seen.retry_delay_seconds.has_value());
  // The date was 120 s ahead when sent; a slow run may take a few of them.
  EXPECT_LE(*seen.retry_delay_seconds, 120);
  EXPECT_GE(*seen.retry_delay_seconds, 100);
  EXPECT_EQ(seen.Trailer("retry-after"),
            absl::StrCat(*seen.retry_delay_seconds));
}

TEST(UpstreamErrorsTest, UnparseableRetryAfterIsLeftOut) {
  Seen seen = CallAnsweredWithRetryAfter(503, "soon");
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(seen.Info("retry_after_seconds"), "<absent>");
  EXPECT_FALSE(seen.retry_delay_seconds.has_value());
  EXPECT_EQ(seen.Trailer("retry-after"), "<absent>");
}

// AU-04/AU-11: a 401 on initialize is UNAUTHENTICATED, not the
// FAILED_PRECONDITION of a version refusal, and the challenge is visible.
TEST(UpstreamErrorsTest, AU04_401OnInitializeIsUnauthenticatedWithChallenge) {
  Env env = Start();
  ScriptedReply reply;
  reply.status = 401;
  const std::string challenge =
      R"(Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource")";
  reply.extra_headers.emplace_back("WWW-Authenticate", challenge);
  env.upstream->ScriptReply("initialize", reply);
  Seen seen = OpenSeen(env);
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(seen.status.error_message(), HasSubstr("HTTP 401"));
  // Header values stay out of messages.
  EXPECT_THAT(seen.status.error_message(), Not(HasSubstr("resource_metadata")));
  EXPECT_EQ(seen.Info("www_authenticate"), challenge);
  EXPECT_EQ(seen.Trailer("www-authenticate"), challenge);
  EXPECT_EQ(seen.Trailer("shadowcat-http-status"), "401");
}

TEST(UpstreamErrorsTest, InitializeErrorsUseTheSameTable) {
  Env env = Start();
  env.upstream->ScriptReply("initialize", JsonRpcErrorReply(403));
  Seen seen = OpenSeen(env);
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(seen.Info("jsonrpc_message"), "refused with 403");
  EXPECT_EQ(seen.Trailer("shadowcat-http-status"), "403");
}

// A 404 without a session id names the URL: no session ever existed.
TEST(UpstreamErrorsTest, NotFoundWithoutSessionNamesTheUrl) {
  Env env = Start();
  env.upstream->ScriptReply("initialize", TextReply(404));
  Seen seen = OpenSeen(env);
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(seen.status.error_message(),
              HasSubstr(absl::StrCat("no MCP endpoint at http://127.0.0.1:",
                                     env.upstream->port(), "/mcp")));
  EXPECT_THAT(seen.status.error_message(), Not(HasSubstr("session")));
  EXPECT_EQ(seen.Info("http_status"), "404");
}

// SM-05 with recovery off: a 404 for the session id says the session expired.
TEST(UpstreamErrorsTest, SM05_NotFoundWithSessionIsSessionExpired) {
  Config config;
  config.session_recovery = false;
  Env env = Start({}, config);
  const std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", JsonRpcErrorReply(404));
  Seen seen = CallSeen(env, session);
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(seen.status.error_message(),
              HasSubstr("the upstream session expired"));
  EXPECT_EQ(seen.Info("jsonrpc_message"), "refused with 404");
  EXPECT_EQ(seen.Trailer("shadowcat-http-status"), "404");
}

// SH-04: a rejected notification fails with the same table.
TEST(UpstreamErrorsTest, SH04_RejectedNotificationKeepsItsJsonRpcError) {
  Env env = Start();
  const std::string session = Open(env);
  env.upstream->ScriptReply("notifications/roots/list_changed",
                            JsonRpcErrorReply(400));
  std::unique_ptr<grpc::ClientContext> context = Ctx();
  v1::NotifyRequest request;
  request.set_session_id(session);
  request.set_method("notifications/roots/list_changed");
  v1::NotifyResponse response;
  Seen seen = Read(
      env.shadowcat.stub->Notify(context.get(), request, &response), *context);
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(seen.Info("jsonrpc_code"), "-32000");
  EXPECT_EQ(seen.Trailer("shadowcat-http-status"), "400");
}

// Non-ASCII in a JSON-RPC error stays exact in the details and becomes \u
// escapes in the plain trailer (metadata values are printable ASCII).
TEST(UpstreamErrorsTest, NonAsciiJsonRpcErrorIsEscapedInTheTrailer) {
  Env env = Start();
  const std::string session = Open(env);
  ScriptedReply reply;
  reply.status = 400;
  reply.error_json =
      "{\"code\":-32602,\"message\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
  env.upstream->ScriptReply("tools/call", reply);
  Seen seen = CallSeen(env, session);
  EXPECT_EQ(seen.Info("jsonrpc_message"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(seen.Trailer("shadowcat-jsonrpc-error"),
            R"({"code":-32602,"message":"caf\u00e9 \ud83d\ude00"})");
}

// The request metric counts HTTP errors and bad responses by explicit kind.
TEST(UpstreamErrorsTest, OutcomesAreClassifiedByKind) {
  Env env = Start();
  const std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", TextReply(503));
  CallSeen(env, session);
  ScriptedReply bad;
  bad.status = 202;  // SH-06: a request answered without a response
  env.upstream->ScriptReply("tools/call", bad);
  CallSeen(env, session);
  const std::string metrics = Metrics(env);
  EXPECT_EQ(MetricValue(metrics,
                        "shadowcat_upstream_requests_total{method=\"tools/"
                        "call\",outcome=\"http_error\"}"),
            1);
  EXPECT_EQ(MetricValue(metrics,
                        "shadowcat_upstream_requests_total{method=\"tools/"
                        "call\",outcome=\"bad_response\"}"),
            1);
}

}  // namespace
}  // namespace shadowcat
