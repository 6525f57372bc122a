#ifndef SHADOWCAT_TESTS_CORE_HTTP_TLS_TEST_SERVER_H_
#define SHADOWCAT_TESTS_CORE_HTTP_TLS_TEST_SERVER_H_

// A tiny HTTPS/1.1 upstream for tests, on 127.0.0.1:0 with its own io thread.
// Every request gets "200 reply <n>" (n counts requests from 1) with
// keep-alive, so tests can see which connection served what.

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "tests/core/http/test_certs.h"

namespace shadowcat {

struct TlsTestServerOptions {
  KeyAndCert identity;
  // When set, clients must present a certificate issued by this CA (mTLS).
  std::string client_ca_pem;
  // When set, every request is answered with these raw bytes, after which
  // the TCP connection is closed without a TLS close_notify.
  std::string raw_response_then_cut;
};

struct TlsTestRequest {
  std::string method;
  std::string target;
  uint64_t connection_id = 0;
};

class TlsTestServer {
 public:
  explicit TlsTestServer(TlsTestServerOptions options);
  ~TlsTestServer();

  uint16_t port() const { return port_; }
  std::vector<TlsTestRequest> Requests() const;
  // Handshakes that failed on the server side (e.g. no client certificate).
  int handshake_failures() const;

  struct State;

 private:
  boost::asio::ssl::context ssl_;  // Outlives the io_context's connections.
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_CORE_HTTP_TLS_TEST_SERVER_H_
