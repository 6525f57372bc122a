#ifndef SHADOWCAT_TESTS_INTEROP_INTEROP_PATHS_H_
#define SHADOWCAT_TESTS_INTEROP_INTEROP_PATHS_H_

// Finds the files that tests driving node peers need: Bazel runfiles (the
// .mjs peers, the shadowcat binary) and the source tree's tests/interop folder
// with its node_modules, which is not a Bazel input (.bazelignore).
//
// The interop tests are tagged "local" (not sandboxed), so a runfile of a
// source file is a symlink into the source tree: its realpath's folder is the
// real tests/interop, beside node_modules.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

// The absolute path of a runfile named by its workspace-relative path (for
// example "tests/interop/sdk_server.mjs" or "server/shadowcat"), from
// RUNFILES_DIR / TEST_SRCDIR, RUNFILES_MANIFEST_FILE, or <argv0>.runfiles.
// The path is not resolved: for a binary, its runfiles stay beside it.
// NotFound when no runfiles tree holds it.
absl::StatusOr<std::string> Runfile(absl::string_view workspace_path);

// The path in the source tree of a runfile that is a source file (for example
// "tests/conformance/shadowcat_adapter.mjs"): the realpath of its runfile.
absl::StatusOr<std::string> SourceFile(absl::string_view workspace_path);

// The source tree's tests/interop folder: $SHADOWCAT_INTEROP_DIR when set (an
// override), else the folder of the realpath of the runfile
// tests/interop/sdk_server.mjs. FailedPrecondition, saying to run
// scripts/bootstrap.sh, when its node_modules lacks any of `node_packages`
// (for example "@modelcontextprotocol/sdk").
absl::StatusOr<std::string> InteropDir(
    const std::vector<std::string>& node_packages = {
        "@modelcontextprotocol/sdk"});

// The `node` executable: $SHADOWCAT_NODE when set, else the first `node` on
// PATH (or /usr/bin/node, /usr/local/bin/node). NotFound when there is none.
absl::StatusOr<std::string> NodeBinary();

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_INTEROP_INTEROP_PATHS_H_
