#ifndef SHADOWCAT_TESTS_INTEROP_NODE_PEER_H_
#define SHADOWCAT_TESTS_INTEROP_NODE_PEER_H_

// Starts a node MCP peer of tests/interop (sdk_server.mjs,
// everything_server.mjs) on a loopback port and waits for its `LISTENING
// <port>` line.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/fakes/child_process.h"

namespace shadowcat {

struct NodePeer {
  std::unique_ptr<ChildProcess> process;
  uint16_t port = 0;
  // http://127.0.0.1:<port><path>
  std::string url;
};

// Runs `node <tests/interop>/<script> --port 0 <args...>`; `node_packages` must
// be installed (else the error says to run scripts/bootstrap.sh).
absl::StatusOr<NodePeer> StartNodePeer(
    const std::string& script, const std::vector<std::string>& args,
    const std::vector<std::string>& node_packages,
    const std::string& path = "/mcp");

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_INTEROP_NODE_PEER_H_
