#include "server/grpc_credentials.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace shadowcat {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::Status Bad(const char* flag, const std::string& path, const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat("config: ", flag, " \"", path, "\" ", what));
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// The first PEM certificate of the file at `path`, or null.
X509Ptr ReadCertificate(const std::string& path) {
  const std::string pem = ReadFile(path);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                 X509_free);
}

KeyPtr ReadPrivateKey(const std::string& path) {
  const std::string pem = ReadFile(path);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                EVP_PKEY_free);
}

// The certificate parses, the key parses and belongs to it, the CA bundle has
// at least one certificate.
absl::Status CheckPem(const Config& config) {
  X509Ptr cert = ReadCertificate(config.grpc_tls_cert_file);
  if (cert == nullptr) {
    return Bad("grpc_tls_cert_file", config.grpc_tls_cert_file,
               "holds no PEM certificate");
  }
  KeyPtr key = ReadPrivateKey(config.grpc_tls_key_file);
  if (key == nullptr) {
    return Bad("grpc_tls_key_file", config.grpc_tls_key_file,
               "holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Bad("grpc_tls_key_file", config.grpc_tls_key_file,
               "does not match grpc_tls_cert_file");
  }
  if (!config.grpc_tls_client_ca_file.empty() &&
      ReadCertificate(config.grpc_tls_client_ca_file) == nullptr) {
    return Bad("grpc_tls_client_ca_file", config.grpc_tls_client_ca_file,
               "holds no PEM certificate");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeGrpcServerCredentials(const Config& config) {
  if (config.grpc_tls_cert_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (absl::Status pem = CheckPem(config); !pem.ok()) return pem;
  const auto refresh_seconds = static_cast<unsigned int>(
      absl::ToInt64Seconds(config.grpc_credentials_reload_interval));
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          config.grpc_tls_key_file, config.grpc_tls_cert_file,
          config.grpc_tls_client_ca_file, refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (config.grpc_tls_client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace shadowcat
