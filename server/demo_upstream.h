#ifndef SHADOWCAT_SERVER_DEMO_UPSTREAM_H_
#define SHADOWCAT_SERVER_DEMO_UPSTREAM_H_

// The built-in demo MCP server that `shadowcat` starts when run with no
// arguments, so a newcomer can call a real upstream at once. It speaks
// Streamable HTTP (session era: 2025-11-25, 2025-06-18, 2025-03-26) on one
// endpoint, /mcp:
//   POST initialize      -> negotiated version, a new random Mcp-Session-Id
//   POST notification    -> 202 (also for JSON-RPC responses)
//   POST ping            -> {}
//   POST tools/list      -> echo {text}, add {a, b}, slow {steps = 3, delay_ms
//   = 200} POST tools/call slow -> an SSE stream: one notifications/progress
//   per step (when the
//                           request has _meta.progressToken), then the result
//   GET                  -> 405 (no standalone stream)
//   DELETE               -> 200, the session is forgotten
// Every request but initialize needs a known Mcp-Session-Id (missing: 400,
// unknown: 404) and, when it sends MCP-Protocol-Version, a supported one (else
// 400).
//
// Threading: serves on the io_context given to Start(), from any number of
// threads. Stop() and the accessors may be called from any thread. Memory is
// bounded: at most `max_sessions` sessions are remembered (the oldest is
// forgotten first).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "server/http_server.h"

namespace shadowcat {

struct DemoUpstreamOptions {
  // Sessions remembered at once; initialize beyond this forgets the oldest.
  // Default: 1000.
  size_t max_sessions = 1000;
};

class DemoUpstream {
 public:
  // Listens on `address`:`port` (0 picks a free port). Errors as
  // HttpServer::Start().
  static absl::StatusOr<std::unique_ptr<DemoUpstream>> Start(
      boost::asio::io_context& ioc, const std::string& address, uint16_t port,
      DemoUpstreamOptions options = {});

  // Calls Stop().
  ~DemoUpstream();

  DemoUpstream(const DemoUpstream&) = delete;
  DemoUpstream& operator=(const DemoUpstream&) = delete;

  // The port actually bound.
  uint16_t port() const;
  // Where clients reach it: "http://127.0.0.1:PORT/mcp" (a wildcard bind is
  // reached on loopback; a specific address is used as given).
  std::string url() const;
  // Stops accepting, closes connections and ends running `slow` streams.
  // Idempotent.
  void Stop();

 private:
  class Service;

  DemoUpstream(std::shared_ptr<Service> service,
               std::unique_ptr<HttpServer> server, std::string host);

  // Shared with the HTTP server's handler, so a late handler call never sees
  // freed state.
  std::shared_ptr<Service> service_;
  std::unique_ptr<HttpServer> server_;
  std::string host_;  // as it appears in url()
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_DEMO_UPSTREAM_H_
