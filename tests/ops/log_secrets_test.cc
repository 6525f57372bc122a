// The real binary, run with every kind of secret a deployment hands it: a
// bearer token and an API key as session headers, a token in the upstream
// URL's query, a password in its userinfo, and an upstream that returns an
// Mcp-Session-Id (and forgets it, so the recovery path logs too). Its whole
// stderr, at debug level, must contain none of them, nor the session handle
// in full.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/json/parse.hpp"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shadowcat/v1/shadowcat.grpc.pb.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"
#include "tests/ops/shadowcat_process.h"

namespace shadowcat {
namespace {

constexpr char kUpstreamSessionId[] = "upstream-sid-0f1e2d3c4b5a69788796a5b4";
constexpr char kHeaderToken[] = "hdr-bearer-7c1d9e";
constexpr char kHeaderApiKey[] = "hdr-apikey-55aa01";
constexpr char kQueryToken[] = "query-token-3b8f2a";
constexpr char kUserinfoPassword[] = "userinfo-pw-9d0c4e";

TEST(LogSecretsTest, NoSecretReachesTheLogs) {
  FakeMcpServerOptions upstream_options;
  upstream_options.session_id = kUpstreamSessionId;
  auto upstream = FakeMcpServer::Start(upstream_options);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  const std::string origin =
      absl::StrCat("http://127.0.0.1:", (*upstream)->port());

  auto child = ShadowcatProcess::Start(
      {"--grpc_listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0",
       absl::StrCat("--allowed_upstreams=", origin, "/mcp"),
       "--log_format=json", "--log_level=debug"});
  ASSERT_TRUE(child.ok()) << child.status();
  const int port = (*child)->WaitForGrpcPort();
  ASSERT_NE(port, 0) << (*child)->log();
  auto stub = v1::Shadowcat::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  v1::OpenSessionRequest open;
  open.set_upstream_url(
      absl::StrCat(origin, "/mcp?access_token=", kQueryToken));
  (*open.mutable_headers())["Authorization"] =
      absl::StrCat("Bearer ", kHeaderToken);
  (*open.mutable_headers())["X-Api-Key"] = kHeaderApiKey;
  v1::OpenSessionResponse opened;
  grpc::Status status = stub->OpenSession(Ctx().get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::CallRequest call;
  call.set_session_id(opened.session_id());
  call.set_method("tools/list");
  v1::CallResponse called;
  EXPECT_TRUE(stub->Call(Ctx().get(), call, &called).ok());
  // The upstream forgets the session: Shadowcat logs the 404 and recovers.
  ScriptedReply forgot;
  forgot.status = 404;
  (*upstream)->ScriptReply("tools/list", forgot);
  status = stub->Call(Ctx().get(), call, &called);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // An invalid message on a stream is logged at debug level.
  ScriptedReply garbage;
  garbage.sse = true;
  garbage.messages_before = {"{not json"};
  (*upstream)->ScriptReply("tools/list", garbage);
  EXPECT_TRUE(stub->Call(Ctx().get(), call, &called).ok());

  v1::OpenSessionRequest with_userinfo = open;
  with_userinfo.set_upstream_url(
      absl::StrCat("http://operator:", kUserinfoPassword,
                   "@127.0.0.1:", (*upstream)->port(), "/mcp"));
  EXPECT_FALSE(stub->OpenSession(Ctx().get(), with_userinfo, &opened).ok());

  v1::CloseSessionRequest close;
  close.set_session_id(call.session_id());
  v1::CloseSessionResponse closed;
  EXPECT_TRUE(stub->CloseSession(Ctx().get(), close, &closed).ok());
  EXPECT_EQ((*child)->Exit(/*terminate=*/true), 0);

  // The secrets really were used: the upstream saw them.
  const std::vector<RecordedRequest> seen = (*upstream)->requests();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.back().Header("Authorization"),
            absl::StrCat("Bearer ", kHeaderToken));
  EXPECT_EQ(seen.back().Header("Mcp-Session-Id"), kUpstreamSessionId);

  const std::string log = (*child)->log();
  // The log is there and speaks of what happened ...
  EXPECT_NE(log.find("session opened"), std::string::npos) << log;
  EXPECT_NE(log.find("re-initializing"), std::string::npos) << log;
  EXPECT_NE(log.find("dropped an invalid upstream message"), std::string::npos)
      << log;
  // ... in JSON lines (gRPC's own lines, if any, are not ours) ...
  int json_lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (line.front() != '{') continue;
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(std::string(line), ec);
    ASSERT_FALSE(ec) << line;
    ASSERT_TRUE(value.is_object()) << line;
    EXPECT_TRUE(value.as_object().contains("msg")) << line;
    ++json_lines;
  }
  EXPECT_GE(json_lines, 4);
  // ... and without a single secret.
  for (const std::string& secret :
       {std::string(kHeaderToken), std::string(kHeaderApiKey),
        std::string(kQueryToken), std::string(kUserinfoPassword),
        std::string(kUpstreamSessionId), call.session_id()}) {
    EXPECT_EQ(log.find(secret), std::string::npos)
        << "\"" << secret << "\" leaked into:\n"
        << log;
  }
}

}  // namespace
}  // namespace shadowcat
