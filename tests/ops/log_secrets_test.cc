// The real binary, run with every kind of secret a deployment hands it: a
// bearer token and an API key as session headers, a token in the upstream
// URL's query, a password in its userinfo, and an upstream that returns an
// Mcp-Session-Id (and forgets it, so the recovery path logs too). Its whole
// stderr, at debug level, must contain none of them, nor the session handle
// in full.

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "boost/json/parse.hpp"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shadowcat/v1/shadowcat.grpc.pb.h"
#include "tests/fakes/child_process.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

constexpr char kUpstreamSessionId[] = "upstream-sid-0f1e2d3c4b5a69788796a5b4";
constexpr char kHeaderToken[] = "hdr-bearer-7c1d9e";
constexpr char kHeaderApiKey[] = "hdr-apikey-55aa01";
constexpr char kQueryToken[] = "query-token-3b8f2a";
constexpr char kUserinfoPassword[] = "userinfo-pw-9d0c4e";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The gRPC port from the start-up line "... serving gRPC on HOST:PORT, ...".
int WaitForGrpcPort(const std::string& log_path) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up) {
    const std::string log = ReadFile(log_path);
    const size_t at = log.find("serving gRPC on ");
    if (at != std::string::npos) {
      const size_t colon = log.find(':', at + 16);
      const size_t end = log.find(',', colon);
      int port = 0;
      if (colon != std::string::npos && end != std::string::npos &&
          absl::SimpleAtoi(log.substr(colon + 1, end - colon - 1), &port)) {
        return port;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return 0;
}

TEST(LogSecretsTest, NoSecretReachesTheLogs) {
  FakeMcpServerOptions upstream_options;
  upstream_options.session_id = kUpstreamSessionId;
  auto upstream = FakeMcpServer::Start(upstream_options);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  const std::string origin =
      absl::StrCat("http://127.0.0.1:", (*upstream)->port());

  const char* binary = std::getenv("SHADOWCAT_BINARY");
  ASSERT_NE(binary, nullptr) << "set by the BUILD target";
  const std::string log_path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/shadowcat.log");
  // exec: the shell becomes the binary, so SIGTERM reaches it directly.
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c",
       absl::StrCat("exec \"$0\" --grpc_listen=127.0.0.1:0 "
                    "--admin_listen=127.0.0.1:0 --allowed_upstreams=",
                    origin, "/mcp --log_format=json --log_level=debug 2>",
                    log_path),
       binary});
  ASSERT_TRUE(child.ok()) << child.status();
  const int port = WaitForGrpcPort(log_path);
  ASSERT_NE(port, 0) << ReadFile(log_path);
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
  ASSERT_TRUE((*child)->Signal(SIGTERM).ok());
  absl::StatusOr<int> exit = (*child)->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit;

  // The secrets really were used: the upstream saw them.
  const std::vector<RecordedRequest> seen = (*upstream)->requests();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.back().Header("Authorization"),
            absl::StrCat("Bearer ", kHeaderToken));
  EXPECT_EQ(seen.back().Header("Mcp-Session-Id"), kUpstreamSessionId);

  const std::string log = ReadFile(log_path);
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
