#ifndef SHADOWCAT_TESTS_INTEGRATION_TEST_ENV_H_
#define SHADOWCAT_TESTS_INTEGRATION_TEST_ENV_H_

// A whole Shadowcat in-process on loopback ports chosen by the kernel, with a
// real gRPC client stub, plus a small blocking GET for the admin endpoints.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "server/server.h"
#include "shadowcat/v1/shadowcat.grpc.pb.h"

namespace shadowcat {

struct TestShadowcat {
  std::unique_ptr<Server> server;
  std::unique_ptr<v1::Shadowcat::Stub> stub;
};

// Starts Shadowcat allowing `allowed` upstreams; `tweak` may adjust the config
// first.
TestShadowcat StartShadowcat(std::vector<std::string> allowed,
                             Config config = {}, ServerOptions options = {});

// A client context with a deadline (tests never hang on a lost reply).
std::unique_ptr<grpc::ClientContext> Ctx(
    absl::Duration timeout = absl::Seconds(10));

// GET http://127.0.0.1:port/path; returns "STATUS BODY".
absl::StatusOr<std::string> HttpGet(uint16_t port, const std::string& path);

// The value of an unlabelled (or exactly labelled) series in Prometheus text,
// or -1.
double MetricValue(const std::string& exposition, const std::string& series);

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_INTEGRATION_TEST_ENV_H_
