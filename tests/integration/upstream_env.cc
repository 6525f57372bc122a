#include "tests/integration/upstream_env.h"

#include <utility>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace shadowcat {

Env Start(FakeMcpServerOptions upstream_options, Config config) {
  Env env;
  auto upstream = FakeMcpServer::Start(upstream_options);
  EXPECT_TRUE(upstream.ok()) << upstream.status();
  env.upstream = *std::move(upstream);
  env.shadowcat = StartShadowcat({env.upstream->url()}, config);
  return env;
}

std::string Open(Env& env, grpc::Status* status_out,
                 const std::string& version) {
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  request.set_protocol_version(version);
  request.mutable_client_info()->set_name("integration-test");
  v1::OpenSessionResponse response;
  grpc::Status status =
      env.shadowcat.stub->OpenSession(Ctx().get(), request, &response);
  if (status_out != nullptr) {
    *status_out = status;
  } else {
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  return response.session_id();
}

grpc::Status Call(Env& env, const std::string& session,
                  const std::string& method, const std::string& params,
                  v1::CallResponse* response, uint32_t timeout_ms) {
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method(method);
  request.set_params_json(params);
  request.set_timeout_ms(timeout_ms);
  return env.shadowcat.stub->Call(Ctx().get(), request, response);
}

grpc::Status CallEcho(Env& env, const std::string& session,
                      v1::CallResponse* response) {
  v1::CallResponse ignored;
  return Call(env, session, "tools/call", kEchoParams,
              response != nullptr ? response : &ignored);
}

v1::CallRequest EchoCall(const std::string& session,
                         const std::string& request_id) {
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method("tools/call");
  request.set_params_json(kEchoParams);
  request.set_request_id(request_id);
  return request;
}

v1::SessionInfo Describe(Env& env, const std::string& session) {
  v1::GetSessionRequest request;
  request.set_session_id(session);
  v1::SessionInfo info;
  grpc::Status status =
      env.shadowcat.stub->GetSession(Ctx().get(), request, &info);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return info;
}

std::string Metrics(Env& env) {
  absl::StatusOr<std::string> metrics =
      HttpGet(env.shadowcat.server->admin_port(), "/metrics");
  EXPECT_TRUE(metrics.ok()) << metrics.status();
  return metrics.ok() ? *metrics : "";
}

std::string OpenWithServerStream(Env& env) {
  v1::OpenSessionRequest request;
  request.set_upstream_url(env.upstream->url());
  request.mutable_options()->set_open_server_stream(true);
  v1::OpenSessionResponse response;
  grpc::Status status =
      env.shadowcat.stub->OpenSession(Ctx().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.session_id();
}

v1::SubscribeRequest SubscribeTo(const std::string& session) {
  v1::SubscribeRequest request;
  request.set_session_id(session);
  return request;
}

Config FastReconnectConfig() {
  Config config;
  config.reconnect_base_delay = absl::Milliseconds(20);
  config.reconnect_jitter = 0;
  return config;
}

bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return condition();
}

}  // namespace shadowcat
