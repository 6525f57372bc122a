#include "tests/integration/test_env.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/fakes/blocking_http_client.h"

namespace shadowcat {

TestShadowcat StartShadowcat(std::vector<std::string> allowed, Config config,
                             ServerOptions options) {
  config.grpc_listen = "127.0.0.1:0";
  config.admin_listen = "127.0.0.1:0";
  config.allowed_upstreams = std::move(allowed);
  config.io_threads = 2;
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(config, options);
  EXPECT_TRUE(server.ok()) << server.status();
  TestShadowcat t;
  if (!server.ok()) return t;
  t.server = *std::move(server);
  t.stub = v1::Shadowcat::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", t.server->grpc_port()),
                          grpc::InsecureChannelCredentials()));
  return t;
}

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::StatusOr<std::string> HttpGet(uint16_t port, const std::string& path) {
  TestHttpRequest request;
  request.method = "GET";
  request.target = path;
  absl::StatusOr<TestHttpResponse> response =
      SendTestHttpRequest(port, request);
  if (!response.ok()) return response.status();
  return absl::StrCat(response->status, " ", response->body);
}

double MetricValue(const std::string& exposition, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.size() > series.size() &&
        line.substr(0, series.size()) == series && line[series.size()] == ' ') {
      double value = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value))
        return value;
    }
  }
  return -1;
}

}  // namespace shadowcat
