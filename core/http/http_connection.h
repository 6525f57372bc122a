#ifndef SHADOWCAT_CORE_HTTP_HTTP_CONNECTION_H_
#define SHADOWCAT_CORE_HTTP_HTTP_CONNECTION_H_

// One HTTP/1.1 connection to an upstream, over plain TCP or TLS: connect (and
// handshake), write a request, read raw response bytes. It knows nothing of
// HTTP semantics, retries or pooling (HttpClient and ConnectionPool do).
//
// Ownership: held by shared_ptr. Each pending operation holds a reference, so
// Close() or dropping the owner's reference while an operation is pending is
// safe: the operation completes (operation_aborted) before the streams go.
//
// Threading: not thread-safe. One owner at a time (an exchange, on its
// strand, or the pool, under its mutex) calls the methods; handlers run on the
// executor passed with each operation. The socket itself runs on the
// io_context's plain executor, so a pooled connection can move between
// strands.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/buffer.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/system/error_code.hpp"
#include "core/http/tls_context.h"

namespace shadowcat {

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  using IoHandler = absl::AnyInvocable<void(boost::system::error_code, size_t)>;
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  // A TLS connection when `tls` is set, plain TCP otherwise. `host` is the
  // URL's host (for SNI and certificate verification); `origin` names the
  // upstream in error messages ("https://10.0.0.5:8443").
  static std::shared_ptr<HttpConnection> Create(boost::asio::io_context& ioc,
                                                std::shared_ptr<TlsContext> tls,
                                                std::string host,
                                                std::string origin);

  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool is_tls() const { return tls_stream_ != nullptr; }

  // Connects to the first endpoint that accepts and, for TLS, handshakes and
  // verifies the peer. on_done(OK), or Unavailable: "connecting to <origin>:
  // Connection refused", "tls handshake with <origin> failed: certificate
  // expired" (see TlsContext::DescribeHandshakeFailure).
  void AsyncConnect(const boost::asio::ip::tcp::resolver::results_type& to,
                    boost::asio::any_io_executor executor,
                    absl::AnyInvocable<void(absl::Status)> on_done);

  // Writes all of `request`, which must stay alive until on_done.
  void AsyncWrite(Request& request, boost::asio::any_io_executor executor,
                  IoHandler on_done);

  // Reads what is available into `buffer` (kept alive by the caller). The
  // peer's close arrives as asio::error::eof, also over TLS when the peer
  // closed TCP without a close_notify; truncated() then says so.
  void AsyncReadSome(boost::asio::mutable_buffer buffer,
                     boost::asio::any_io_executor executor, IoHandler on_done);

  // Plain TCP only (a TLS stream keeps OpenSSL's record buffers anyway):
  // on_done once bytes, the peer's close or an error wait on the socket,
  // with no buffer held meanwhile. Then ReadSomeNow() takes them. One more
  // system call per read than AsyncReadSome, for streams that mostly wait.
  void AsyncWaitReadable(
      boost::asio::any_io_executor executor,
      absl::AnyInvocable<void(boost::system::error_code)> on_done);

  // Plain TCP only: what is waiting, without blocking. Returns the bytes
  // read; `ec` is asio::error::eof at the peer's close, would_block when
  // nothing waits.
  size_t ReadSomeNow(boost::asio::mutable_buffer buffer,
                     boost::system::error_code& ec);

  // True when the last eof came without a TLS close_notify, so a body
  // delimited by the close may have been cut by an attacker.
  bool truncated() const { return truncated_; }

  // For an idle connection: true when nothing is waiting to be read (not the
  // peer's close, not stray bytes, not a buffered TLS record), so the next
  // request can go out on it.
  bool LooksReusable();

  // Closes the socket, aborting pending operations. Idempotent.
  void Close();

 private:
  using Socket = boost::asio::ip::tcp::socket;
  using TlsStream = boost::asio::ssl::stream<Socket>;

  HttpConnection(boost::asio::io_context& ioc, std::shared_ptr<TlsContext> tls,
                 std::string host, std::string origin);

  Socket& socket() {
    return tls_stream_ != nullptr ? tls_stream_->next_layer() : *plain_;
  }
  void OnConnect(const boost::system::error_code& ec,
                 boost::asio::any_io_executor executor,
                 absl::AnyInvocable<void(absl::Status)> on_done);

  // Declared before the stream that refers to its SSL_CTX.
  const std::shared_ptr<TlsContext> tls_;
  const std::string host_;
  const std::string origin_;
  std::optional<Socket> plain_;
  // On the heap: an asio TLS stream is several hundred bytes, which a plain
  // connection (one per open stream) should not carry.
  std::unique_ptr<TlsStream> tls_stream_;
  bool truncated_ = false;
  char peek_byte_ = 0;  // AsyncWaitReadable's one-byte MSG_PEEK target.
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_HTTP_CONNECTION_H_
