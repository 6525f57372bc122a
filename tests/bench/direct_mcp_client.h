#ifndef SHADOWCAT_TESTS_BENCH_DIRECT_MCP_CLIENT_H_
#define SHADOWCAT_TESTS_BENCH_DIRECT_MCP_CLIENT_H_

// The "direct" baseline of the call benchmarks: a blocking HTTP/1.1
// keep-alive MCP client on one connection to an upstream on 127.0.0.1, doing
// what a backend without Shadowcat would do. JSON and SSE answers are both
// read to their end. One instance per caller thread; not thread-safe.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

class DirectMcpClient {
 public:
  // Connects to 127.0.0.1:`port`, posting to `target` (e.g. "/mcp").
  static absl::StatusOr<std::unique_ptr<DirectMcpClient>> Connect(
      uint16_t port, std::string target);
  ~DirectMcpClient();

  // initialize + notifications/initialized; remembers the Mcp-Session-Id.
  absl::Status Initialize();
  // Uses a session another client initialized.
  void set_session_id(std::string id) { session_id_ = std::move(id); }
  const std::string& session_id() const { return session_id_; }

  // POSTs one JSON-RPC message; the body of a 2xx answer (JSON or SSE text).
  // Unavailable on transport errors or other statuses.
  absl::StatusOr<std::string> Post(absl::string_view body);

 private:
  struct Io;
  DirectMcpClient(std::unique_ptr<Io> io, std::string target);

  std::unique_ptr<Io> io_;
  std::string target_;
  std::string session_id_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_BENCH_DIRECT_MCP_CLIENT_H_
