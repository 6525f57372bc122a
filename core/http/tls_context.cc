#include "core/http/tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/ssl/error.hpp"

namespace shadowcat {
namespace {

namespace ssl = boost::asio::ssl;

absl::Status FileError(absl::string_view what, const std::string& path,
                       absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("tls: ", what, " \"", path, "\": ", why));
}

// OpenSSL's reason for a failed load reads like "no start line" or "key values
// mismatch"; a missing file is better said with errno, checked first.
absl::Status CheckReadable(absl::string_view what, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return FileError(what, path,
                     absl::StrCat("cannot read it: ", std::strerror(errno)));
  }
  std::fclose(file);
  return absl::OkStatus();
}

// An encrypted key would make OpenSSL prompt for a passphrase on the
// terminal, which a sidecar has not got: refuse instead of blocking.
int NoPassphrase(char*, int, int, void*) { return 0; }

// True when `dir` holds OpenSSL's hashed certificate names ("5ad8a5d6.0"),
// as c_rehash and update-ca-certificates make them.
bool HasHashedCertificates(const std::string& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 10 || name[8] != '.') continue;
    if (name.find_first_not_of("0123456789abcdef") == 8) return true;
  }
  return false;
}

// The system CAs. Where the system keeps them hashed in a directory (Debian's
// /etc/ssl/certs), that directory is looked up per verification, so nothing
// is parsed at start: reading the whole bundle file took half of Shadowcat's
// start-to-ready (about 25 ms of 50). Otherwise, or when SSL_CERT_FILE names
// a bundle, OpenSSL's default paths, bundle included.
bool TrustSystemCas(SSL_CTX* raw) {
  if (std::getenv(X509_get_default_cert_file_env()) == nullptr) {
    const char* dir_env = std::getenv(X509_get_default_cert_dir_env());
    const std::string dir =
        dir_env != nullptr ? dir_env : X509_get_default_cert_dir();
    // SSL_CERT_DIR may list several directories; those go the default way.
    if (dir.find(':') == std::string::npos && HasHashedCertificates(dir) &&
        SSL_CTX_load_verify_dir(raw, dir.c_str()) == 1) {
      return true;
    }
  }
  return SSL_CTX_set_default_verify_paths(raw) == 1;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

}  // namespace

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(
    const TlsOptions& options) {
  int min_version = 0;
  if (options.min_version == "1.2" || options.min_version.empty()) {
    min_version = TLS1_2_VERSION;
  } else if (options.min_version == "1.3") {
    min_version = TLS1_3_VERSION;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls: min_version \"", options.min_version, "\" is not 1.2 or 1.3"));
  }
  if (options.client_cert_file.empty() != options.client_key_file.empty()) {
    return absl::FailedPreconditionError(
        "tls: a client certificate needs its key and a key its certificate "
        "(give both files or neither)");
  }

  // Built from a raw SSL_CTX because asio's method constructor throws.
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) {
    return absl::InternalError("tls: cannot create an OpenSSL context");
  }
  // Owned by the asio context from here on, which frees it.
  std::shared_ptr<TlsContext> tls(new TlsContext(raw));
  ssl::context& ctx = tls->context_;
  SSL_CTX_set_default_passwd_cb(raw, &NoPassphrase);
  if (SSL_CTX_set_min_proto_version(raw, min_version) != 1) {
    return absl::InternalError("tls: cannot set the minimum version");
  }
  // No renegotiation and no compression (CRIME); OpenSSL 3's defaults already
  // say so for most, stated here so a different library build cannot change
  // it.
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);

  boost::system::error_code ec;
  if (options.use_system_ca && !TrustSystemCas(raw)) {
    const char* reason = ERR_reason_error_string(ERR_get_error());
    return absl::FailedPreconditionError(
        absl::StrCat("tls: cannot load the system CAs: ",
                     reason != nullptr ? reason : "unknown error"));
  }
  if (!options.ca_file.empty()) {
    if (absl::Status s = CheckReadable("CA file", options.ca_file); !s.ok()) {
      return s;
    }
    ctx.load_verify_file(options.ca_file, ec);
    if (ec) return FileError("CA file", options.ca_file, ec.message());
  }
  if (!options.client_cert_file.empty()) {
    if (absl::Status s =
            CheckReadable("client certificate file", options.client_cert_file);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            CheckReadable("client key file", options.client_key_file);
        !s.ok()) {
      return s;
    }
    ctx.use_certificate_chain_file(options.client_cert_file, ec);
    if (ec) {
      return FileError("client certificate file", options.client_cert_file,
                       ec.message());
    }
    ctx.use_private_key_file(options.client_key_file, ssl::context::pem, ec);
    if (ec) {
      const bool mismatch =
          ec.category() == boost::asio::error::get_ssl_category() &&
          ERR_GET_REASON(ec.value()) == X509_R_KEY_VALUES_MISMATCH;
      return FileError(
          "client key file", options.client_key_file,
          mismatch ? "does not match the client certificate" : ec.message());
    }
    if (SSL_CTX_check_private_key(raw) != 1) {
      ERR_clear_error();
      return FileError("client key file", options.client_key_file,
                       "does not match the client certificate");
    }
  }
  ctx.set_verify_mode(ssl::verify_peer, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("tls: cannot require verification: ", ec.message()));
  }
  return tls;
}

absl::Status TlsContext::PrepareConnection(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  // Partial wildcards ("w*.example.com") are a known source of
  // mis-verification; RFC 6125 section 7.2 advises against them.
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (IsIpLiteral(host)) {
    // An IP literal must match an iPAddress SAN, never a DNS name.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return absl::InternalError("tls: cannot set the expected IP address");
    }
    return absl::OkStatus();
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 ||
      SSL_set1_host(ssl, host.c_str()) != 1) {
    return absl::InternalError("tls: cannot set the expected host name");
  }
  return absl::OkStatus();
}

std::string TlsContext::DescribeHandshakeFailure(
    SSL* ssl, const boost::system::error_code& ec) {
  const long verify = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
  switch (verify) {
    case X509_V_OK:
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return absl::StrCat("unknown issuer (",
                          X509_verify_cert_error_string(verify), ")");
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "hostname mismatch";
    default:
      return absl::StrCat("certificate rejected (",
                          X509_verify_cert_error_string(verify), ")");
  }
  // A plain HTTP server answers the ClientHello with "HTTP/1.1 400", which
  // OpenSSL reads as a record of an unknown version.
  if (ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(ec.value()) == SSL_R_WRONG_VERSION_NUMBER) {
    return "the upstream does not speak TLS (wrong version number)";
  }
  if (ec == boost::asio::ssl::error::stream_truncated ||
      ec == boost::asio::error::eof) {
    return "the upstream closed the connection during the handshake";
  }
  return ec.message();
}

}  // namespace shadowcat
