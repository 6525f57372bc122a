#include "core/http/http_connection.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/bind_executor.hpp"
#include "boost/asio/connect.hpp"
#include "boost/asio/error.hpp"
#include "boost/asio/ssl/error.hpp"
#include "boost/beast/http/write.hpp"
#include "core/http/beast_status.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

}  // namespace

std::shared_ptr<HttpConnection> HttpConnection::Create(
    asio::io_context& ioc, std::shared_ptr<TlsContext> tls, std::string host,
    std::string origin) {
  return std::shared_ptr<HttpConnection>(new HttpConnection(
      ioc, std::move(tls), std::move(host), std::move(origin)));
}

HttpConnection::HttpConnection(asio::io_context& ioc,
                               std::shared_ptr<TlsContext> tls,
                               std::string host, std::string origin)
    : tls_(std::move(tls)), host_(std::move(host)), origin_(std::move(origin)) {
  if (tls_ != nullptr) {
    tls_stream_ = std::make_unique<TlsStream>(ioc, tls_->context());
  } else {
    plain_.emplace(ioc);
  }
}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::AsyncConnect(
    const tcp::resolver::results_type& to, asio::any_io_executor executor,
    absl::AnyInvocable<void(absl::Status)> on_done) {
  asio::async_connect(
      socket(), to,
      asio::bind_executor(
          executor,
          [self = shared_from_this(), executor, on_done = std::move(on_done)](
              const ErrorCode& ec, const tcp::endpoint&) mutable {
            self->OnConnect(ec, std::move(executor), std::move(on_done));
          }));
}

void HttpConnection::OnConnect(const ErrorCode& ec,
                               asio::any_io_executor executor,
                               absl::AnyInvocable<void(absl::Status)> on_done) {
  if (ec) {
    absl::Status status =
        ErrorCodeToStatus(ec, absl::StrCat("connecting to ", origin_));
    // Only the owner's timer aborts a connect, and it finishes the exchange
    // itself; an abort seen here is still a failed connect.
    if (absl::IsCancelled(status)) {
      status = absl::UnavailableError(status.message());
    }
    on_done(std::move(status));
    return;
  }
  ErrorCode ignored;
  socket().set_option(tcp::no_delay(true), ignored);
  if (tls_stream_ == nullptr) {
    on_done(absl::OkStatus());
    return;
  }
  if (absl::Status status =
          TlsContext::PrepareConnection(tls_stream_->native_handle(), host_);
      !status.ok()) {
    on_done(std::move(status));
    return;
  }
  tls_stream_->async_handshake(
      asio::ssl::stream_base::client,
      asio::bind_executor(
          executor, [self = shared_from_this(), on_done = std::move(on_done)](
                        const ErrorCode& ec) mutable {
            if (!ec) {
              on_done(absl::OkStatus());
              return;
            }
            SSL* ssl = self->tls_stream_ != nullptr
                           ? self->tls_stream_->native_handle()
                           : nullptr;
            on_done(absl::UnavailableError(absl::StrCat(
                "tls handshake with ", self->origin_,
                " failed: ", TlsContext::DescribeHandshakeFailure(ssl, ec))));
          }));
}

void HttpConnection::AsyncWrite(Request& request,
                                asio::any_io_executor executor,
                                IoHandler on_done) {
  auto handler = asio::bind_executor(
      std::move(executor),
      [self = shared_from_this(), on_done = std::move(on_done)](
          const ErrorCode& ec, size_t n) mutable { on_done(ec, n); });
  if (tls_stream_ != nullptr) {
    http::async_write(*tls_stream_, request, std::move(handler));
  } else {
    http::async_write(*plain_, request, std::move(handler));
  }
}

void HttpConnection::AsyncReadSome(asio::mutable_buffer buffer,
                                   asio::any_io_executor executor,
                                   IoHandler on_done) {
  auto handler = asio::bind_executor(
      std::move(executor),
      [self = shared_from_this(), on_done = std::move(on_done)](
          ErrorCode ec, size_t n) mutable {
        // Most servers close TCP without a TLS close_notify. That is still
        // the end of the connection; whether the cut matters (a body
        // delimited by the close) is the caller's call, through truncated().
        if (ec == asio::ssl::error::stream_truncated) {
          self->truncated_ = true;
          ec = asio::error::eof;
        }
        on_done(ec, n);
      });
  if (tls_stream_ != nullptr) {
    tls_stream_->async_read_some(buffer, std::move(handler));
  } else {
    plain_->async_read_some(buffer, std::move(handler));
  }
}

void HttpConnection::AsyncWaitReadable(
    asio::any_io_executor executor,
    absl::AnyInvocable<void(ErrorCode)> on_done) {
  // A peeking receive rather than async_wait(wait_read): Asio tries a
  // receive before waiting, under the descriptor's lock, so bytes that came
  // before the wait started are not missed on the edge-triggered epoll.
  plain_->async_receive(
      asio::buffer(&peek_byte_, 1), Socket::message_peek,
      asio::bind_executor(
          std::move(executor),
          [self = shared_from_this(), on_done = std::move(on_done)](
              ErrorCode ec, size_t) mutable { on_done(ec); }));
}

size_t HttpConnection::ReadSomeNow(asio::mutable_buffer buffer, ErrorCode& ec) {
  ec = {};
  // MSG_DONTWAIT on the call, so the socket's mode (Asio's to manage) is
  // left alone.
  const ssize_t n = ::recv(plain_->native_handle(), buffer.data(),
                           buffer.size(), MSG_DONTWAIT);
  if (n > 0) return static_cast<size_t>(n);
  if (n == 0) {
    ec = asio::error::eof;
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    ec = asio::error::would_block;
  } else {
    ec = ErrorCode(errno, boost::system::system_category());
  }
  return 0;
}

bool HttpConnection::LooksReusable() {
  if (tls_stream_ != nullptr) {
    // Bytes OpenSSL already holds (a decrypted record, or ciphertext that
    // arrived with the last response, such as a close_notify) are as
    // disqualifying as bytes in the socket.
    SSL* ssl = tls_stream_->native_handle();
    if (SSL_pending(ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0) {
      return false;
    }
  }
  // An idle HTTP/1.1 connection has nothing to read. Readable-at-EOF means
  // the server closed it while it sat idle; stray bytes mean it cannot be
  // trusted for the next response.
  Socket& s = socket();
  if (!s.is_open()) return false;
  // One recv(MSG_PEEK | MSG_DONTWAIT) on the descriptor: this runs for every
  // pooled request, and switching the socket to non-blocking and back around
  // Asio's receive cost three more system calls per call.
  char byte;
  const ssize_t n =
      ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void HttpConnection::Close() {
  Socket& s = socket();
  if (!s.is_open()) return;
  // No TLS close_notify: it would need an asynchronous exchange with a peer
  // we are giving up on, and HTTP/1.1 framing already tells the peer where
  // our request ended.
  ErrorCode ignored;
  s.shutdown(Socket::shutdown_both, ignored);
  s.close(ignored);
}

}  // namespace shadowcat
