#include "tests/interop/node_peer.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/interop/interop_paths.h"

namespace shadowcat {

absl::StatusOr<NodePeer> StartNodePeer(
    const std::string& script, const std::vector<std::string>& args,
    const std::vector<std::string>& node_packages, const std::string& path) {
  absl::StatusOr<std::string> dir = InteropDir(node_packages);
  if (!dir.ok()) return dir.status();
  absl::StatusOr<std::string> node = NodeBinary();
  if (!node.ok()) return node.status();
  std::vector<std::string> argv = {*node, absl::StrCat(*dir, "/", script),
                                   "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcessOptions options;
  options.log_prefix = absl::StrCat("[", script, "] ");
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Start(argv, options);
  if (!process.ok()) return process.status();
  NodePeer peer;
  peer.process = *std::move(process);
  absl::StatusOr<std::string> line =
      peer.process->WaitForLine("LISTENING ", absl::Seconds(30));
  if (!line.ok()) return line.status();
  uint32_t port = 0;
  if (!absl::SimpleAtoi(absl::StripPrefix(*line, "LISTENING "), &port) ||
      port == 0 || port > 65535) {
    return absl::InternalError(absl::StrCat("bad LISTENING line: ", *line));
  }
  peer.port = static_cast<uint16_t>(port);
  peer.url = absl::StrCat("http://127.0.0.1:", port, path);
  return peer;
}

}  // namespace shadowcat
