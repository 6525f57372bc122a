// The gRPC health service as a kubelet probe or grpc_health_probe sees it,
// through real grpc.health.v1 client stubs: both names SERVING when ready,
// NOT_SERVING from the start of a drain, and /readyz agreeing.

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.demo_upstream = true;
    shadowcat_ = StartShadowcat({}, {}, options);
    ASSERT_NE(shadowcat_.server, nullptr);
    health_ = Health::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", shadowcat_.server->grpc_port()),
        grpc::InsecureChannelCredentials()));
  }

  grpc::Status Check(const std::string& service, HealthCheckResponse* out) {
    HealthCheckRequest request;
    request.set_service(service);
    return health_->Check(Ctx().get(), request, out);
  }

  int ReadyzStatus() {
    absl::StatusOr<std::string> reply =
        HttpGet(shadowcat_.server->admin_port(), "/readyz");
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? std::stoi(reply->substr(0, 3)) : 0;
  }

  TestShadowcat shadowcat_;
  std::unique_ptr<Health::Stub> health_;
};

TEST_F(HealthTest, ServiceNameIsTheApiName) {
  EXPECT_EQ(std::string(kHealthServiceName),
            v1::Shadowcat::service_full_name());
  EXPECT_EQ(std::string(kHealthServerName), "");
}

TEST_F(HealthTest, BothNamesServingWhenReady) {
  for (const char* name : {kHealthServerName, kHealthServiceName}) {
    HealthCheckResponse response;
    grpc::Status status = Check(name, &response);
    ASSERT_TRUE(status.ok())
        << "\"" << name << "\": " << status.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << name;
  }
  HealthCheckResponse response;
  EXPECT_EQ(Check("no.such.Service", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReadyzStatus(), 200);
}

TEST_F(HealthTest, BothNamesNotServingDuringDrain) {
  // Watchers opened before the drain see the change as it happens (a Check
  // started after Drain() began would be refused: the gRPC server stops
  // taking calls at once).
  struct Watcher {
    std::unique_ptr<grpc::ClientContext> context = Ctx();
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader;
  };
  Watcher watchers[2];
  const char* names[2] = {kHealthServerName, kHealthServiceName};
  for (int i = 0; i < 2; ++i) {
    HealthCheckRequest request;
    request.set_service(names[i]);
    watchers[i].reader = health_->Watch(watchers[i].context.get(), request);
    HealthCheckResponse first;
    ASSERT_TRUE(watchers[i].reader->Read(&first)) << names[i];
    EXPECT_EQ(first.status(), HealthCheckResponse::SERVING) << names[i];
  }
  EXPECT_EQ(ReadyzStatus(), 200);

  std::thread drain(
      [this] { shadowcat_.server->Drain(absl::Milliseconds(500)); });
  for (int i = 0; i < 2; ++i) {
    HealthCheckResponse update;
    ASSERT_TRUE(watchers[i].reader->Read(&update)) << names[i];
    EXPECT_EQ(update.status(), HealthCheckResponse::NOT_SERVING) << names[i];
  }
  // The admin listener stays up through the drain and says so.
  EXPECT_EQ(ReadyzStatus(), 503);
  drain.join();
  EXPECT_EQ(ReadyzStatus(), 503);
  for (Watcher& w : watchers) {
    w.context->TryCancel();
    w.reader->Finish();
  }
}

}  // namespace
}  // namespace shadowcat
