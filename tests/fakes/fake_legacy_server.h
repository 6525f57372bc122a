#ifndef SHADOWCAT_TESTS_FAKES_FAKE_LEGACY_SERVER_H_
#define SHADOWCAT_TESTS_FAKES_FAKE_LEGACY_SERVER_H_

// A fake MCP upstream of the legacy HTTP+SSE transport (2024-11-05, LG-01),
// for the fallback's fault tests: a real HTTP server on 127.0.0.1:0 with its
// own io_context and thread.
//
//   POST /sse            -> options.streamable_post_status (405: "I am old")
//   GET /sse             -> an SSE stream; first event `endpoint` (by default
//                           "/messages?session_id=<n>"), then the responses
//   POST /messages?...   -> 202, and the JSON-RPC response on that stream:
//     initialize   -> protocolVersion options.protocol_version
//     tools/list   -> the echo tool
//     tools/call   -> echoes arguments.text; progress first when the request
//                     carries a progressToken
//     hold         -> no response, ever (for stream-loss tests)
//     other        -> error -32601
//   POST /messages for an unknown session_id -> 404.
//
// Threading: every method may be called from any thread.

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"

namespace shadowcat {

struct FakeLegacyServerOptions {
  // The answer to a Streamable HTTP POST on the SSE URL.
  int streamable_post_status = 405;
  // The `endpoint` event's data; empty: "/messages?session_id=<n>".
  std::string endpoint;
  std::string protocol_version = "2024-11-05";
};

class FakeLegacyServer {
 public:
  explicit FakeLegacyServer(FakeLegacyServerOptions options = {});
  ~FakeLegacyServer();
  FakeLegacyServer(const FakeLegacyServer&) = delete;
  FakeLegacyServer& operator=(const FakeLegacyServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT/sse".
  std::string url() const;

  // Ends every open SSE stream (the server's sessions are forgotten).
  void DropStreams();
  // SSE streams opened so far.
  int streams_opened() const;
  // "<HTTP method> <target>" of every request, in arrival order, and the
  // JSON-RPC method of each message POSTed to an endpoint.
  std::vector<std::string> requests() const;
  std::vector<std::string> posted_methods() const;
  // The body of each message POSTed to an endpoint, parallel to
  // posted_methods().
  std::vector<std::string> posted_bodies() const;

  struct State;

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_FAKES_FAKE_LEGACY_SERVER_H_
