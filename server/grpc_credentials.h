#ifndef SHADOWCAT_SERVER_GRPC_CREDENTIALS_H_
#define SHADOWCAT_SERVER_GRPC_CREDENTIALS_H_

// The gRPC listener's credentials from Config: plaintext, TLS, or mTLS when a
// client CA is named. TLS uses gRPC's FileWatcherCertificateProvider, which
// re-reads the files every grpc_credentials_reload_interval, so a rotated
// certificate Secret is served to new connections without a restart.

#include <memory>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "grpcpp/security/server_credentials.h"

namespace shadowcat {

// InvalidArgument naming the flag when a named file does not hold what it
// should (a certificate, a key matching it, a CA), checked now because the
// watcher would only log the failure and then fail every handshake.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeGrpcServerCredentials(const Config& config);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_GRPC_CREDENTIALS_H_
