// The locked-down gRPC API as a real client sees it: TLS and mTLS with
// certificates generated at test time, a bearer token read from a file, both
// rotated on disk while the server runs, the health service open without a
// token, and the refusal of an open API beyond loopback.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/core/http/test_certs.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// Replaces a file the way a Secret update does: write aside, then rename.
void ReplaceFile(const std::string& path, const std::string& contents) {
  const std::string tmp = WriteTempFile("replacement.tmp", contents);
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

struct ClientTls {
  std::string roots;
  KeyAndCert identity;  // empty: no client certificate
};

class GrpcAuthTest : public ::testing::Test {
 protected:
  GrpcAuthTest() : ca_("shadowcat-test-ca"), other_ca_("other-ca") {}

  KeyAndCert ServerCert(TestCa& ca) {
    LeafSpec spec;
    spec.common_name = "shadowcat";
    spec.dns_names = {"localhost"};
    return ca.Issue(spec);
  }

  void UseTls(const KeyAndCert& server_cert) {
    config_.grpc_tls_cert_file =
        WriteTempFile("server.crt", server_cert.cert_pem);
    config_.grpc_tls_key_file =
        WriteTempFile("server.key", server_cert.key_pem);
  }

  void Start() {
    config_.grpc_credentials_reload_interval = absl::Seconds(1);
    shadowcat_ = StartShadowcat({}, config_);
    ASSERT_NE(shadowcat_.server, nullptr);
  }

  // A fresh channel with its own subchannel, so every call of a test that
  // waits for a rotation makes a new TLS handshake.
  std::shared_ptr<grpc::Channel> Channel(const ClientTls* tls) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials();
    if (tls != nullptr) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = tls->roots;
      ssl.pem_private_key = tls->identity.key_pem;
      ssl.pem_cert_chain = tls->identity.cert_pem;
      credentials = grpc::SslCredentials(ssl);
      args.SetSslTargetNameOverride("localhost");
    }
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", shadowcat_.server->grpc_port()), credentials,
        args);
  }

  // ListSessions: an API call that needs no upstream.
  grpc::Status ListSessions(const ClientTls* tls,
                            const std::string& authorization = "") {
    auto stub = v1::Shadowcat::NewStub(Channel(tls));
    std::unique_ptr<grpc::ClientContext> context = Ctx(absl::Seconds(5));
    if (!authorization.empty()) {
      context->AddMetadata("authorization", authorization);
    }
    v1::ListSessionsResponse response;
    return stub->ListSessions(context.get(), {}, &response);
  }

  // Polls `attempt` until it returns OK or 15 s pass (rotations are picked up
  // within one 1 s reload interval; the margin is for loaded sanitizer runs).
  template <typename F>
  grpc::Status EventuallyOk(F attempt) {
    const absl::Time give_up = absl::Now() + absl::Seconds(15);
    grpc::Status status = attempt();
    while (!status.ok() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(100));
      status = attempt();
    }
    return status;
  }

  TestCa ca_;
  TestCa other_ca_;
  Config config_;
  TestShadowcat shadowcat_;
};

TEST_F(GrpcAuthTest, TlsWithTheRightCaWorksAndPlaintextDoesNot) {
  UseTls(ServerCert(ca_));
  Start();
  ClientTls tls{ca_.cert_pem(), {}};
  grpc::Status status = ListSessions(&tls);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ListSessions(nullptr).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcAuthTest, TlsWithTheWrongCaFails) {
  UseTls(ServerCert(ca_));
  Start();
  ClientTls tls{other_ca_.cert_pem(), {}};
  EXPECT_EQ(ListSessions(&tls).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcAuthTest, MtlsNeedsAClientCertificateFromTheClientCa) {
  UseTls(ServerCert(ca_));
  config_.grpc_tls_client_ca_file =
      WriteTempFile("clients.crt", ca_.cert_pem());
  Start();
  LeafSpec client;
  client.common_name = "backend";
  client.client = true;

  ClientTls anonymous{ca_.cert_pem(), {}};
  EXPECT_EQ(ListSessions(&anonymous).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ClientTls stranger{ca_.cert_pem(), other_ca_.Issue(client)};
  EXPECT_EQ(ListSessions(&stranger).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ClientTls member{ca_.cert_pem(), ca_.Issue(client)};
  grpc::Status status = ListSessions(&member);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(GrpcAuthTest, RotatedServerCertificateIsServedWithoutRestart) {
  UseTls(ServerCert(ca_));
  Start();
  ClientTls old_roots{ca_.cert_pem(), {}};
  ASSERT_TRUE(ListSessions(&old_roots).ok());

  // The new pair is issued by another CA, so only a handshake with the
  // rotated certificate can satisfy a client that trusts just that CA.
  KeyAndCert rotated = ServerCert(other_ca_);
  ReplaceFile(config_.grpc_tls_key_file, rotated.key_pem);
  ReplaceFile(config_.grpc_tls_cert_file, rotated.cert_pem);
  ClientTls new_roots{other_ca_.cert_pem(), {}};
  grpc::Status status = EventuallyOk([&] { return ListSessions(&new_roots); });
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ListSessions(&old_roots).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

class GrpcTokenTest : public GrpcAuthTest {
 protected:
  void SetUp() override {
    config_.grpc_token_file = WriteTempFile("token", "s3cret-token\n");
    Start();
  }
};

TEST_F(GrpcTokenTest, MissingOrWrongTokenIsUnauthenticated) {
  EXPECT_EQ(ListSessions(nullptr).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListSessions(nullptr, "Bearer wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListSessions(nullptr, "Bearer s3cret-token-and-more").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListSessions(nullptr, "Basic s3cret-token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status status = ListSessions(nullptr, "Bearer s3cret-token");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ListSessions(nullptr, "bearer s3cret-token").ok());
}

TEST_F(GrpcTokenTest, StreamingCallsNeedTheTokenToo) {
  auto stub = v1::Shadowcat::NewStub(Channel(nullptr));
  std::unique_ptr<grpc::ClientContext> context = Ctx();
  v1::CallRequest request;
  request.set_session_id("no-such-session");
  request.set_method("tools/list");
  auto reader = stub->CallStream(context.get(), request);
  v1::CallStreamEvent event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The message never echoes what was sent.
  EXPECT_EQ(status.error_message().find("s3cret"), std::string::npos);
}

TEST_F(GrpcTokenTest, HealthNeedsNoToken) {
  auto health = Health::NewStub(Channel(nullptr));
  HealthCheckRequest request;
  request.set_service(kHealthServiceName);
  HealthCheckResponse response;
  grpc::Status status = health->Check(Ctx().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

TEST_F(GrpcTokenTest, RotatedTokenReplacesTheOldOne) {
  ReplaceFile(config_.grpc_token_file, "next-token");
  grpc::Status status =
      EventuallyOk([&] { return ListSessions(nullptr, "Bearer next-token"); });
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ListSessions(nullptr, "Bearer s3cret-token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // An emptied file keeps the last good token rather than locking callers out.
  ReplaceFile(config_.grpc_token_file, "");
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_TRUE(ListSessions(nullptr, "Bearer next-token").ok());
}

TEST(GrpcListenTest, OpenApiBeyondLoopbackIsRefusedAtStartUp) {
  Config config;
  config.grpc_listen = "0.0.0.0:0";
  config.admin_listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find(
                "allow_unauthenticated_grpc_beyond_loopback"),
            std::string::npos);

  config.grpc_token_file = WriteTempFile("listen-token", "t");
  server = Server::Start(config);
  EXPECT_TRUE(server.ok()) << server.status();
}

TEST(GrpcListenTest, MismatchedKeyStopsStartUpNamingTheFlag) {
  TestCa ca("ca");
  LeafSpec spec;
  spec.dns_names = {"localhost"};
  Config config;
  config.grpc_listen = "127.0.0.1:0";
  config.admin_listen = "127.0.0.1:0";
  config.grpc_tls_cert_file = WriteTempFile("a.crt", ca.Issue(spec).cert_pem);
  config.grpc_tls_key_file = WriteTempFile("b.key", ca.Issue(spec).key_pem);
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("grpc_tls_key_file"),
            std::string::npos)
      << server.status();
}

}  // namespace
}  // namespace shadowcat
