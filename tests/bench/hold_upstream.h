#ifndef SHADOWCAT_TESTS_BENCH_HOLD_UPSTREAM_H_
#define SHADOWCAT_TESTS_BENCH_HOLD_UPSTREAM_H_

// An MCP upstream for memory figures (call_figures' "hold" role): it accepts
// any number of sessions and holds every stream open without sending on it,
// so a benchmark can keep thousands of standalone GET streams and active
// CallStreams open through Shadowcat at once and read their resident cost.
//   POST initialize    -> the negotiated version, a new Mcp-Session-Id
//   POST notification  -> 202 (also for JSON-RPC responses)
//   POST other request -> 200 text/event-stream, then nothing until the
//                         client goes away (an active call)
//   GET                -> 200 text/event-stream, then nothing (the server
//                         stream)
//   DELETE             -> 200
// No session is checked: the demo upstream is the one for that.
//
// Threading: serves on the io_context given to Start(), from any threads.

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "server/http_server.h"

namespace shadowcat {

class HoldUpstream {
 public:
  // Listens on 127.0.0.1 with a free port.
  static absl::StatusOr<std::unique_ptr<HoldUpstream>> Start(
      boost::asio::io_context& ioc);

  uint16_t port() const { return server_->port(); }

 private:
  class Streams;
  HoldUpstream(std::shared_ptr<Streams> streams,
               std::unique_ptr<HttpServer> server);

  std::shared_ptr<Streams> streams_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_BENCH_HOLD_UPSTREAM_H_
