// The MCP conformance suite (npm @modelcontextprotocol/conformance) against
// Shadowcat as the MCP client. For one scenario the suite's CLI starts the
// scenario's server, runs shadowcat_adapter.mjs with its URL, and judges what
// the client did; the adapter starts the real //server:shadowcat binary
// (allowing only that server's origin: its port is random) and drives it over
// gRPC. The test passes when the CLI exits 0 and its checks.json has at least
// one SUCCESS and no FAILURE or WARNING (the suite itself fails a run on
// warnings).
//
// Each BUILD target runs one scenario (--gtest_filter), so a failure names the
// scenario.

#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "tests/fakes/child_process.h"
#include "tests/interop/interop_paths.h"

namespace shadowcat {
namespace {

// The folder to write results in: the test's own temp folder under Bazel.
std::string MakeOutputDir(const std::string& scenario) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string base = tmp != nullptr ? tmp : "/tmp";
  std::string pattern =
      absl::StrCat(base, "/conformance-", scenario, "-XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) return "";
  return buffer.data();
}

// The checks.json the CLI wrote somewhere below `dir` (it adds a folder named
// after the scenario and the time).
std::string FindChecksJson(const std::string& dir) {
  std::string direct = absl::StrCat(dir, "/checks.json");
  if (std::ifstream(direct).good()) return direct;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return "";
  std::string found;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string candidate = FindChecksJson(absl::StrCat(dir, "/", name));
    if (!candidate.empty()) {
      found = candidate;
      break;
    }
  }
  closedir(d);
  return found;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Str(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceTest, AllChecksPass) {
  const std::string& scenario = GetParam();
  absl::StatusOr<std::string> interop =
      InteropDir({"@modelcontextprotocol/conformance", "@grpc/grpc-js",
                  "@grpc/proto-loader"});
  ASSERT_TRUE(interop.ok()) << interop.status();
  absl::StatusOr<std::string> node = NodeBinary();
  ASSERT_TRUE(node.ok()) << node.status();
  absl::StatusOr<std::string> shadowcat = Runfile("server/shadowcat");
  ASSERT_TRUE(shadowcat.ok()) << shadowcat.status();
  // The adapter and preload as source files: the adapter loads its npm packages
  // from tests/interop and the proto from the source tree, relative to itself.
  absl::StatusOr<std::string> adapter =
      SourceFile("tests/conformance/shadowcat_adapter.mjs");
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  absl::StatusOr<std::string> preload =
      SourceFile("tests/conformance/node20_preload.mjs");
  ASSERT_TRUE(preload.ok()) << preload.status();
  const std::string out = MakeOutputDir(scenario);
  ASSERT_FALSE(out.empty());

  ChildProcessOptions options;
  options.env = {absl::StrCat("SHADOWCAT_BIN=", *shadowcat)};
  options.log_prefix = "[conformance] ";
  // The CLI splits --command on spaces and runs it through a shell.
  const std::string adapter_command = absl::StrCat(*node, " ", *adapter);
  std::vector<std::string> argv = {
      *node,
      "--import",
      *preload,
      absl::StrCat(
          *interop,
          "/node_modules/@modelcontextprotocol/conformance/dist/index.js"),
      "client",
      "--command",
      adapter_command,
      "--scenario",
      scenario,
      "--timeout",
      "30000",
      "-o",
      out,
  };
  auto cli = ChildProcess::Start(argv, options);
  ASSERT_TRUE(cli.ok()) << cli.status();
  absl::StatusOr<int> status = (*cli)->Wait(absl::Seconds(60));
  ASSERT_TRUE(status.ok()) << "conformance CLI still running after 60 s: "
                           << status.status();

  const std::string checks_path = FindChecksJson(out);
  ASSERT_FALSE(checks_path.empty())
      << "the conformance CLI wrote no checks.json under " << out;
  boost::system::error_code error;
  boost::json::value checks = boost::json::parse(ReadFile(checks_path), error);
  ASSERT_FALSE(error) << checks_path << ": " << error.message();
  ASSERT_TRUE(checks.is_array()) << checks_path;

  int success = 0, failure = 0, warning = 0, info = 0;
  std::string problems;
  for (const boost::json::value& v : checks.as_array()) {
    if (!v.is_object()) continue;
    const boost::json::object& check = v.as_object();
    const std::string status_text = Str(check, "status");
    if (status_text == "SUCCESS") {
      ++success;
    } else if (status_text == "FAILURE" || status_text == "WARNING") {
      (status_text == "FAILURE" ? failure : warning) += 1;
      absl::StrAppend(&problems, "\n  ", status_text, " ", Str(check, "id"),
                      ": ", Str(check, "description"), " -- ",
                      Str(check, "errorMessage"));
    } else {
      ++info;
    }
    if (status_text != "INFO") {
      std::cerr << "[check] " << scenario << " " << status_text << " "
                << Str(check, "id") << " " << Str(check, "errorMessage")
                << "\n";
    }
  }
  std::cerr << "[checks] " << scenario << ": " << success << " passed, "
            << failure << " failed, " << warning << " warnings (" << info
            << " info)\n";
  if (failure + warning > 0) {
    std::cerr << "[adapter stderr]\n"
              << ReadFile(absl::StrReplaceAll(checks_path,
                                              {{"checks.json", "stderr.txt"}}));
  }

  EXPECT_EQ(failure, 0) << problems;
  EXPECT_EQ(warning, 0) << problems;
  EXPECT_GT(success, 0) << "no check succeeded";
  ASSERT_TRUE(WIFEXITED(*status)) << "the conformance CLI was killed";
  EXPECT_EQ(WEXITSTATUS(*status), 0)
      << "the conformance CLI failed the scenario (client error or timeout)";
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, ConformanceTest,
    ::testing::Values("initialize", "tools_call", "sse-retry",
                      "elicitation-sep1034-client-defaults"),
    [](const auto& info) {
      return absl::StrReplaceAll(info.param, {{"-", "_"}});
    });

}  // namespace
}  // namespace shadowcat
