#ifndef SHADOWCAT_TESTS_INTEGRATION_UPSTREAM_ENV_H_
#define SHADOWCAT_TESTS_INTEGRATION_UPSTREAM_ENV_H_

// A fake MCP upstream plus a whole in-process Shadowcat allowed to reach it,
// and the few calls every integration test makes.

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"

namespace shadowcat {

struct Env {
  std::unique_ptr<FakeMcpServer> upstream;
  TestShadowcat shadowcat;
};

Env Start(FakeMcpServerOptions upstream_options = {}, Config config = {});

// Opens a session to env's upstream; the handle, or "" with *status_out set.
std::string Open(Env& env, grpc::Status* status_out = nullptr,
                 const std::string& version = "");

grpc::Status Call(Env& env, const std::string& session,
                  const std::string& method, const std::string& params,
                  v1::CallResponse* response, uint32_t timeout_ms = 0);

// Call of the fake's echo tool ("hi there") on `session`.
grpc::Status CallEcho(Env& env, const std::string& session,
                      v1::CallResponse* response = nullptr);

// A tools/call of the fake's echo tool on `session`, with the backend's own
// handle when `request_id` is set.
v1::CallRequest EchoCall(const std::string& session,
                         const std::string& request_id = "");

// GetSession of `session` (a test failure when it fails).
v1::SessionInfo Describe(Env& env, const std::string& session);

// The /metrics exposition of env's Shadowcat.
std::string Metrics(Env& env);

// Opens a session that opens its standalone GET stream at once.
std::string OpenWithServerStream(Env& env);

v1::SubscribeRequest SubscribeTo(const std::string& session);

// A config whose reconnects are quick and deterministic: 20 ms, no jitter.
Config FastReconnectConfig();

// Polls `condition` (cheap, read-only) until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout = absl::Seconds(5));

inline constexpr char kEchoParams[] =
    R"({"name":"echo","arguments":{"text":"hi there"}})";

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_INTEGRATION_UPSTREAM_ENV_H_
