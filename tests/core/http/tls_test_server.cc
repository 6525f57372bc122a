#include "tests/core/http/tls_test_server.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/buffer.hpp"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"

namespace shadowcat {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct TlsTestServer::State {
  std::string raw_response_then_cut;  // Constant once serving.
  mutable absl::Mutex mu;
  std::vector<TlsTestRequest> requests ABSL_GUARDED_BY(mu);
  int handshake_failures ABSL_GUARDED_BY(mu) = 0;
};

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

void Require(const boost::system::error_code& ec, const char* what) {
  if (!ec) return;
  std::fprintf(stderr, "tls_test_server: %s: %s\n", what, ec.message().c_str());
  std::abort();
}

asio::awaitable<void> ServeConnection(std::shared_ptr<TlsTestServer::State> st,
                                      ssl::stream<tcp::socket> stream,
                                      uint64_t connection_id) {
  auto [hec] =
      co_await stream.async_handshake(ssl::stream_base::server, kTuple);
  if (hec) {
    absl::MutexLock lock(&st->mu);
    ++st->handshake_failures;
    co_return;
  }
  beast::flat_buffer buffer;
  while (true) {
    http::request<http::string_body> request;
    auto [rec, rn] = co_await http::async_read(stream, buffer, request, kTuple);
    if (rec) co_return;
    size_t n;
    {
      absl::MutexLock lock(&st->mu);
      st->requests.push_back(
          TlsTestRequest{std::string(request.method_string()),
                         std::string(request.target()), connection_id});
      n = st->requests.size();
    }
    if (!st->raw_response_then_cut.empty()) {
      // The cut follows whether or not the write got through.
      (void)co_await asio::async_write(
          stream, asio::buffer(st->raw_response_then_cut), kTuple);
      boost::system::error_code ignored;
      stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    http::response<http::string_body> response(http::status::ok, 11);
    response.body() = absl::StrCat("reply ", n);
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, response, kTuple);
    if (wec || !request.keep_alive()) co_return;
  }
}

asio::awaitable<void> Accept(std::shared_ptr<TlsTestServer::State> st,
                             tcp::acceptor& acceptor, ssl::context& ctx) {
  for (uint64_t id = 1;; ++id) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) co_return;
    asio::co_spawn(
        acceptor.get_executor(),
        ServeConnection(st, ssl::stream<tcp::socket>(std::move(socket), ctx),
                        id),
        asio::detached);
  }
}

}  // namespace

TlsTestServer::TlsTestServer(TlsTestServerOptions options)
    : ssl_(ssl::context::tls_server),
      acceptor_(ioc_),
      state_(std::make_shared<State>()) {
  boost::system::error_code ec;
  ssl_.use_certificate_chain(asio::buffer(options.identity.cert_pem), ec);
  Require(ec, "server certificate");
  ssl_.use_private_key(asio::buffer(options.identity.key_pem),
                       ssl::context::pem, ec);
  Require(ec, "server key");
  if (!options.client_ca_pem.empty()) {
    ssl_.add_certificate_authority(asio::buffer(options.client_ca_pem), ec);
    Require(ec, "client CA");
    ssl_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert,
                         ec);
    Require(ec, "verify mode");
  }
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(endpoint.protocol(), ec);
  Require(ec, "open");
  acceptor_.bind(endpoint, ec);
  Require(ec, "bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  Require(ec, "listen");
  port_ = acceptor_.local_endpoint(ec).port();
  state_->raw_response_then_cut = options.raw_response_then_cut;
  asio::co_spawn(ioc_, Accept(state_, acceptor_, ssl_), asio::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

TlsTestServer::~TlsTestServer() {
  ioc_.stop();
  thread_.join();
}

std::vector<TlsTestRequest> TlsTestServer::Requests() const {
  absl::MutexLock lock(&state_->mu);
  return state_->requests;
}

int TlsTestServer::handshake_failures() const {
  absl::MutexLock lock(&state_->mu);
  return state_->handshake_failures;
}

}  // namespace shadowcat
