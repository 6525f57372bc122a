#ifndef SHADOWCAT_CORE_HTTP_TLS_CONTEXT_H_
#define SHADOWCAT_CORE_HTTP_TLS_CONTEXT_H_

// The client side of TLS toward https:// upstreams: which CAs are trusted,
// which client certificate is presented (mTLS), which protocol versions are
// allowed. One TlsContext serves every connection of an HttpClient.
//
// Built once at start-up by Create(), which reads every file then, so a bad
// path or PEM stops start-up (FailedPrecondition) instead of failing the first
// call. Immutable afterwards and safe to share between threads (OpenSSL's
// SSL_CTX is, once configured).
//
// Every connection verifies the peer: chain to a trusted CA, validity dates,
// and the URL's host (DNS name against the certificate's names; an IP literal
// against its IP addresses), and sends SNI for DNS names (PrepareConnection).

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "boost/asio/ssl/context.hpp"
#include "boost/system/error_code.hpp"

namespace shadowcat {

struct TlsOptions {
  // Trust the system CA bundle (OpenSSL's default verify paths, on Debian
  // /etc/ssl/certs). Default: true. Tests turn it off to trust only ca_file.
  bool use_system_ca = true;
  // PEM file of extra trusted CAs (a private PKI), added to the system ones.
  // Default: none.
  std::string ca_file;
  // PEM client certificate chain and its private key for upstreams that
  // require mTLS. Both or neither. The key must not be encrypted. Default:
  // none.
  std::string client_cert_file;
  std::string client_key_file;
  // Lowest protocol version offered: "1.2" or "1.3". Default: "1.2".
  std::string min_version = "1.2";
};

class TlsContext {
 public:
  // FailedPrecondition naming the file (never its contents) when a file cannot
  // be read or parsed, the key does not match the certificate, or only one of
  // cert/key is given; InvalidArgument for an unknown min_version.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(
      const TlsOptions& options);

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // For building asio::ssl::stream objects.
  boost::asio::ssl::context& context() { return context_; }

  // Sets up one connection's SSL object before its handshake: SNI (DNS names
  // only; RFC 6066 forbids IP literals there) and the identity the peer's
  // certificate must carry. `host` is Url::host (lower-case; IPv6 without
  // brackets). Internal when OpenSSL refuses (out of memory).
  static absl::Status PrepareConnection(SSL* ssl, const std::string& host);

  // Why a handshake failed, in words an operator can act on: "certificate
  // expired", "unknown issuer", "hostname mismatch" (read from the
  // verification result), "the upstream does not speak TLS", or the TLS
  // error text.
  static std::string DescribeHandshakeFailure(
      SSL* ssl, const boost::system::error_code& ec);

 private:
  explicit TlsContext(SSL_CTX* ctx) : context_(ctx) {}

  boost::asio::ssl::context context_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_TLS_CONTEXT_H_
