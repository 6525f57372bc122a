// Upstream redirects through the whole sidecar (PX-08, SC-02): a 307 or 308
// on the upstream's own origin and allowed path replays the POST once, with
// the same body and headers; everything else fails FAILED_PRECONDITION (the
// HTTP error table's 3xx row) with a message that says why and names the
// Location's origin, never its query.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"
#include "tests/integration/upstream_env.h"

namespace shadowcat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

ScriptedReply Redirect(int status, std::string location) {
  ScriptedReply reply;
  reply.status = status;
  reply.extra_headers = {{"Location", std::move(location)}};
  return reply;
}

// The origin of env's upstream: "http://127.0.0.1:PORT".
std::string Origin(Env& env) {
  return absl::StrCat("http://127.0.0.1:", env.upstream->port());
}

// Opens a session that sends a header of the backend's own on every request.
std::string OpenWithTenant(Env& env) {
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  request.mutable_client_info()->set_name("redirect-test");
  (*request.mutable_headers())["X-Tenant"] = "tenant-7";
  v1::OpenSessionResponse response;
  grpc::Status status =
      env.shadowcat.stub->OpenSession(Ctx().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.session_id();
}

// The tools/call POSTs the upstream received, in order.
std::vector<RecordedRequest> ToolCalls(Env& env) {
  std::vector<RecordedRequest> calls;
  for (const RecordedRequest& request : env.upstream->requests()) {
    if (request.rpc_method == "tools/call") calls.push_back(request);
  }
  return calls;
}

TEST(RedirectTest, PX08_SameOrigin307And308ReplayThePostOnce) {
  for (int status : {307, 308}) {
    SCOPED_TRACE(status);
    Env env = Start();
    const std::string session = OpenWithTenant(env);
    env.upstream->ScriptReply("tools/call", Redirect(status, "/mcp/moved"));
    v1::CallResponse response;
    grpc::Status result = CallEcho(env, session, &response);
    ASSERT_TRUE(result.ok()) << result.error_message();
    EXPECT_THAT(response.result_json(), HasSubstr("hi there"));

    std::vector<RecordedRequest> calls = ToolCalls(env);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].target, "/mcp");
    EXPECT_EQ(calls[1].http_method, "POST");
    EXPECT_EQ(calls[1].target, "/mcp/moved");
    EXPECT_EQ(calls[1].body, calls[0].body);
    for (const char* header : {"Mcp-Session-Id", "MCP-Protocol-Version",
                               "X-Tenant", "Content-Type", "Accept"}) {
      EXPECT_FALSE(calls[1].Header(header).empty()) << header;
      EXPECT_EQ(calls[1].Header(header), calls[0].Header(header)) << header;
    }
    // Temporary or permanent, the session keeps its URL: the next call goes
    // to /mcp again.
    ASSERT_TRUE(CallEcho(env, session).ok());
    EXPECT_EQ(ToolCalls(env).back().target, "/mcp");
  }
}

TEST(RedirectTest, PX08_RedirectedInitializeOpensTheSession) {
  Env env = Start();
  env.upstream->ScriptReply("initialize", Redirect(308, "/mcp/v2"));
  const std::string session = Open(env);
  ASSERT_FALSE(session.empty());
  EXPECT_TRUE(CallEcho(env, session).ok());
  // The era probe (server/discover, VN-11) may come first; the initialize
  // is sent twice: to the URL, then to where the 308 pointed.
  std::vector<std::string> initialize_targets;
  for (const RecordedRequest& request : env.upstream->requests()) {
    if (request.rpc_method == "initialize") {
      initialize_targets.push_back(request.target);
    }
  }
  EXPECT_THAT(initialize_targets, ElementsAre("/mcp", "/mcp/v2"));
}

TEST(RedirectTest, SC02_CrossOrigin307IsNeverFollowed) {
  Env env = Start();
  // A real server elsewhere: it must never hear from us.
  auto elsewhere = FakeMcpServer::Start();
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  const std::string session = Open(env);
  env.upstream->ScriptReply(
      "tools/call",
      Redirect(307, absl::StrCat((*elsewhere)->url(), "?token=secret")));
  grpc::Status status = CallEcho(env, session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              HasSubstr("upstream returned HTTP 307 for POST (redirect not "
                        "followed: its Location is on another origin, "));
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat("http://127.0.0.1:", (*elsewhere)->port(),
                                     ", and redirects are followed only")));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("secret")));
  EXPECT_TRUE((*elsewhere)->requests().empty());
  EXPECT_EQ(ToolCalls(env).size(), 1u);
}

TEST(RedirectTest, PX08_PostRedirectedBy301To303IsNotFollowed) {
  Env env = Start();
  const std::string session = Open(env);
  for (int status : {301, 302, 303}) {
    SCOPED_TRACE(status);
    env.upstream->ScriptReply("tools/call", Redirect(status, "/mcp/moved"));
    grpc::Status result = CallEcho(env, session);
    EXPECT_EQ(result.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(result.error_message(),
                HasSubstr(absl::StrCat("HTTP ", status, " for POST")));
    EXPECT_THAT(result.error_message(),
                HasSubstr(absl::StrCat("a POST redirected by ", status,
                                       " would be re-sent as a GET")));
  }
  // Nothing went to /mcp/moved, by POST or by GET.
  for (const RecordedRequest& request : env.upstream->requests()) {
    EXPECT_EQ(request.target, "/mcp") << request.http_method;
  }
}

TEST(RedirectTest, PX08_LoopsAndLongChainsAreRefused) {
  Env env = Start();
  const std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", Redirect(307, "/mcp/a"));
  env.upstream->ScriptReply("tools/call", Redirect(307, Origin(env) + "/mcp"));
  grpc::Status loop = CallEcho(env, session);
  EXPECT_EQ(loop.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(loop.error_message(),
              HasSubstr(absl::StrCat("it loops back to ", Origin(env),
                                     "/mcp, already visited")));
  EXPECT_EQ(ToolCalls(env).size(), 2u);

  for (int hop = 1; hop <= 4; ++hop) {
    env.upstream->ScriptReply("tools/call",
                              Redirect(308, absl::StrCat("/mcp/", hop)));
  }
  grpc::Status chain = CallEcho(env, session);
  EXPECT_EQ(chain.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(chain.error_message(), HasSubstr("at most 3 are followed"));
  EXPECT_EQ(ToolCalls(env).size(), 2u + 4u);
}

TEST(RedirectTest, SC02_SameOriginOutsideTheAllowlistIsRefused) {
  Env env = Start();
  const std::string session = Open(env);
  env.upstream->ScriptReply("tools/call", Redirect(307, "/admin?key=secret"));
  grpc::Status status = CallEcho(env, session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat("its Location ", Origin(env),
                                     "/admin is not allowed by "
                                     "--allowed_upstreams")));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("secret")));
  EXPECT_EQ(ToolCalls(env).size(), 1u);
}

}  // namespace
}  // namespace shadowcat
