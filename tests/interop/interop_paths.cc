#include "tests/interop/interop_paths.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kWorkspace = "shadowcat";

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

bool Exists(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

// The runfiles roots to try, best first.
std::vector<std::string> RunfilesRoots() {
  std::vector<std::string> roots;
  for (const char* name : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    std::string dir = Env(name);
    if (!dir.empty()) roots.push_back(dir);
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0)
    roots.push_back(absl::StrCat(absl::string_view(self, n), ".runfiles"));
  return roots;
}

// Looks `key` ("shadowcat/tests/...") up in a runfiles manifest: lines of
// "<key> <absolute path>".
std::string FromManifest(const std::string& manifest, const std::string& key) {
  std::ifstream in(manifest);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, key) && line.size() > key.size() &&
        line[key.size()] == ' ') {
      return line.substr(key.size() + 1);
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<std::string> Runfile(absl::string_view workspace_path) {
  const std::string key = absl::StrCat(kWorkspace, "/", workspace_path);
  std::vector<std::string> tried;
  for (const std::string& root : RunfilesRoots()) {
    std::string candidate = absl::StrCat(root, "/", key);
    if (Exists(candidate)) return candidate;
    tried.push_back(candidate);
  }
  std::string manifest = Env("RUNFILES_MANIFEST_FILE");
  if (!manifest.empty()) {
    std::string found = FromManifest(manifest, key);
    if (Exists(found)) return found;
    tried.push_back(absl::StrCat(manifest, " (manifest)"));
  }
  return absl::NotFoundError(absl::StrCat(
      "runfile ", key, " not found (is it in the test's data?); tried: ",
      absl::StrJoin(tried, ", ")));
}

absl::StatusOr<std::string> SourceFile(absl::string_view workspace_path) {
  absl::StatusOr<std::string> runfile = Runfile(workspace_path);
  if (!runfile.ok()) return runfile.status();
  char real[PATH_MAX];
  if (realpath(runfile->c_str(), real) == nullptr) {
    return absl::InternalError(absl::StrCat(
        "realpath(", *runfile, ") failed: ", std::strerror(errno)));
  }
  return std::string(real);
}

absl::StatusOr<std::string> InteropDir(
    const std::vector<std::string>& node_packages) {
  std::string dir = Env("SHADOWCAT_INTEROP_DIR");
  if (dir.empty()) {
    absl::StatusOr<std::string> peer =
        SourceFile("tests/interop/sdk_server.mjs");
    if (!peer.ok()) return peer.status();
    dir = peer->substr(0, peer->rfind('/'));
  }
  if (!IsDirectory(dir)) {
    return absl::NotFoundError(
        absl::StrCat("interop folder ", dir, " does not exist"));
  }
  for (const std::string& package : node_packages) {
    std::string path = absl::StrCat(dir, "/node_modules/", package);
    if (!IsDirectory(path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path,
          " is missing: the npm packages of tests/interop are not installed. "
          "Run scripts/bootstrap.sh (it runs npm install in tests/interop)."));
    }
  }
  return dir;
}

absl::StatusOr<std::string> NodeBinary() {
  std::string node = Env("SHADOWCAT_NODE");
  if (!node.empty()) {
    if (IsExecutableFile(node)) return node;
    return absl::NotFoundError(
        absl::StrCat("SHADOWCAT_NODE=", node, " is not an executable file"));
  }
  std::vector<std::string> dirs =
      absl::StrSplit(Env("PATH"), ':', absl::SkipEmpty());
  dirs.push_back("/usr/local/bin");
  dirs.push_back("/usr/bin");
  for (const std::string& d : dirs) {
    std::string candidate = absl::StrCat(d, "/node");
    if (IsExecutableFile(candidate)) return candidate;
  }
  return absl::NotFoundError(
      "node is not installed (not on PATH); run scripts/bootstrap.sh");
}

}  // namespace shadowcat
