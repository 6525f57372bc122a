#include "tests/ops/shadowcat_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shadowcat {

absl::StatusOr<std::unique_ptr<ShadowcatProcess>> ShadowcatProcess::Start(
    const std::vector<std::string>& args, const std::vector<std::string>& env) {
  const char* binary = std::getenv("SHADOWCAT_BINARY");
  const char* tmp = std::getenv("TEST_TMPDIR");
  if (binary == nullptr || tmp == nullptr) {
    return absl::FailedPreconditionError(
        "SHADOWCAT_BINARY and TEST_TMPDIR must be set (bazel test)");
  }
  static std::atomic<int> next{0};
  auto process = std::make_unique<ShadowcatProcess>();
  process->log_path_ = absl::StrCat(tmp, "/shadowcat-", next++, ".log");
  // env -u drops the variable and execs; sh then execs the binary with its
  // stderr redirected, so the child's pid is the binary's own.
  std::vector<std::string> argv = {
      "/usr/bin/env",
      "-u",
      "SHADOWCAT_BINARY",
      "/bin/sh",
      "-c",
      absl::StrCat("exec \"$@\" 2>'", process->log_path_, "'"),
      "sh",
      binary};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcessOptions options;
  options.env = env;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start(std::move(argv), std::move(options));
  if (!child.ok()) return child.status();
  process->child_ = *std::move(child);
  return process;
}

std::string ShadowcatProcess::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

int ShadowcatProcess::WaitForGrpcPort() {
  const std::string kLine = "serving gRPC on ";
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up) {
    const std::string text = log();
    const size_t at = text.find(kLine);
    if (at != std::string::npos) {
      const size_t colon = text.find(':', at + kLine.size());
      const size_t end = text.find(',', colon);
      int port = 0;
      if (colon != std::string::npos && end != std::string::npos &&
          absl::SimpleAtoi(text.substr(colon + 1, end - colon - 1), &port)) {
        return port;
      }
    }
    if (child_->Wait(absl::Milliseconds(50)).ok()) return 0;  // exited
  }
  return 0;
}

int ShadowcatProcess::Exit(bool terminate, absl::Duration timeout) {
  if (terminate) (void)child_->Signal(SIGTERM);
  absl::StatusOr<int> status = child_->Wait(timeout);
  if (!status.ok() || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

}  // namespace shadowcat
