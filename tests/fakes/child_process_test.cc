#include "tests/fakes/child_process.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

std::unique_ptr<ChildProcess> StartShell(const std::string& script,
                                         ChildProcessOptions options = {}) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"/bin/sh", "-c", script}, std::move(options));
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? *std::move(child) : nullptr;
}

int OpenFdCount() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count;
}

TEST(ChildProcessTest, WaitForLineReturnsThePrefixedLine) {
  auto child = StartShell("echo starting; echo LISTENING 1234; exec sleep 60");
  ASSERT_NE(child, nullptr);
  absl::StatusOr<std::string> line = child->WaitForLine("LISTENING ");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "LISTENING 1234");
}

TEST(ChildProcessTest, EachLineIsReturnedOnceInOrder) {
  auto child = StartShell("echo A 1; echo B; echo A 2; exec sleep 60");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->WaitForLine("A ").value_or(""), "A 1");
  EXPECT_EQ(child->WaitForLine("A ").value_or(""), "A 2");
  EXPECT_EQ(child->WaitForLine("A ", absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ChildProcessTest, ExitWithoutTheLineIsUnavailable) {
  auto child = StartShell("printf 'no newline at the end'");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->WaitForLine("LISTENING").status().code(),
            absl::StatusCode::kUnavailable);
  // The unterminated last line still counts as a line.
  EXPECT_EQ(child->WaitForLine("no newline").value_or(""),
            "no newline at the end");
  absl::StatusOr<int> status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(ChildProcessTest, PassesExtraEnvironment) {
  auto child =
      StartShell("echo V=$SC_CHILD_TEST", {.env = {"SC_CHILD_TEST=42"}});
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->WaitForLine("V=").value_or(""), "V=42");
}

TEST(ChildProcessTest, StopSendsSigterm) {
  auto child = StartShell("echo READY; exec sleep 60");
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("READY").ok());
  int status = child->Stop();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(child->Stop(), status);  // idempotent
  EXPECT_EQ(child->Signal(SIGTERM).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ChildProcessTest, IgnoredSigtermIsFollowedBySigkill) {
  // An ignored signal stays ignored across exec, so `sleep` ignores SIGTERM
  // too.
  auto child = StartShell("trap '' TERM; echo READY; exec sleep 60",
                          {.term_grace = absl::Milliseconds(200)});
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("READY").ok());
  int status = child->Stop();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(ChildProcessTest, MissingProgramIsNotFound) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({"/nonexistent/shadowcat-test-binary"});
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ChildProcess::Start({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ChildProcessTest, LeavesNoFdOrZombieBehind) {
  const int fds_before = OpenFdCount();
  pid_t pid = 0;
  {
    auto child = StartShell("echo READY; exec sleep 60");
    ASSERT_NE(child, nullptr);
    pid = child->pid();
    ASSERT_TRUE(child->WaitForLine("READY").ok());
  }
  EXPECT_EQ(OpenFdCount(), fds_before);
  // Reaped: no child with that pid is left to wait for.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace shadowcat
