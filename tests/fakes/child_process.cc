#include "tests/fakes/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace shadowcat {
namespace {

constexpr size_t kMaxKeptLines = 4096;

absl::Status ErrnoError(absl::string_view what, int error) {
  return absl::InternalError(
      absl::StrCat(what, " failed: ", std::strerror(error)));
}

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

// The inherited environment with `overrides` ("NAME=value") replacing
// same-named entries.
std::vector<std::string> MergedEnvironment(
    const std::vector<std::string>& overrides) {
  std::vector<std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view current(*entry);
    absl::string_view name = current.substr(0, current.find('=') + 1);
    bool replaced = std::any_of(
        overrides.begin(), overrides.end(),
        [name](const std::string& o) { return absl::StartsWith(o, name); });
    if (!replaced) merged.emplace_back(current);
  }
  merged.insert(merged.end(), overrides.begin(), overrides.end());
  return merged;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Blocks until `pid` can be reaped or `timeout` passed; true when it can. A
// pidfd makes this a real wait; kernels without one get short polling intervals
// instead.
bool AwaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
#ifdef SYS_pidfd_open
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  const int pidfd = -1;
#endif
  bool exited = false;
  while (true) {
    siginfo_t info = {};
    if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      // ECHILD: nothing left to wait for (already reaped, e.g. with SIGCHLD
      // ignored).
      exited = errno == ECHILD;
      break;
    }
    if (info.si_pid == pid) {
      exited = true;
      break;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    if (pidfd >= 0) {
      pollfd wait_for = {pidfd, POLLIN, 0};
      // Rounded up, so the last wait does not end just short of the deadline.
      const int64_t ms =
          std::min<int64_t>(absl::ToInt64Milliseconds(left), 60'000) + 1;
      poll(&wait_for, 1, static_cast<int>(ms));
    } else {
      absl::SleepFor(std::min(left, absl::Milliseconds(5)));
    }
  }
  CloseFd(pidfd);
  return exited;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    std::vector<std::string> argv, ChildProcessOptions options) {
  if (argv.empty() || argv[0].empty())
    return absl::InvalidArgumentError("empty command");
  if (options.log_prefix.empty()) {
    options.log_prefix =
        absl::StrCat("[", argv[0].substr(argv[0].rfind('/') + 1), "] ");
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) {
    int error = errno;
    CloseFd(out[0]);
    CloseFd(out[1]);
    return ErrnoError("pipe2", error);
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  // dup2 clears close-on-exec on the child's copy only; every other pipe end
  // closes at exec.
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);

  // A child inherits our signal mask and ignored signals; it must see SIGTERM
  // like any process started from a shell.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attributes, &signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &signals);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> environment = MergedEnvironment(options.env);
  std::vector<char*> argv_pointers = CStrings(argv);
  std::vector<char*> env_pointers = CStrings(environment);
  pid_t pid = 0;
  int spawn_error = posix_spawnp(&pid, argv[0].c_str(), &actions, &attributes,
                                 argv_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  CloseFd(out[1]);
  if (spawn_error != 0) {
    CloseFd(out[0]);
    CloseFd(wake[0]);
    CloseFd(wake[1]);
    if (spawn_error == ENOENT)
      return absl::NotFoundError(absl::StrCat("no program ", argv[0]));
    return ErrnoError(absl::StrCat("starting ", argv[0]), spawn_error);
  }
  // WrapUnique: the constructor is private, so make_unique cannot reach it.
  return absl::WrapUnique(
      new ChildProcess(pid, out[0], wake[0], wake[1], std::move(options)));
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd, int wake_read_fd,
                           int wake_write_fd, ChildProcessOptions options)
    : pid_(pid),
      stdout_fd_(stdout_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      options_(std::move(options)) {
  reader_ = std::thread([this] { ReadLoop(); });
}

ChildProcess::~ChildProcess() {
  Stop();
  // A grandchild may still hold the pipe open; the wake pipe ends the reader
  // regardless.
  char byte = 0;
  while (write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  reader_.join();
  CloseFd(stdout_fd_);
  CloseFd(wake_read_fd_);
  CloseFd(wake_write_fd_);
}

absl::StatusOr<std::string> ChildProcess::WaitForLine(absl::string_view prefix,
                                                      absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto match = lines_.end();
  auto found = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    match = std::find_if(lines_.begin(), lines_.end(),
                         [prefix](const std::string& line) {
                           return absl::StartsWith(line, prefix);
                         });
    return match != lines_.end() || stdout_closed_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&found), timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no stdout line starting with \"", prefix, "\" within ",
                     absl::FormatDuration(timeout)));
  }
  if (match == lines_.end()) {
    return absl::UnavailableError(absl::StrCat(
        "child stdout closed without a line starting with \"", prefix, "\""));
  }
  std::string line = std::move(*match);
  lines_.erase(match);
  return line;
}

absl::Status ChildProcess::Signal(int signal) {
  absl::MutexLock lock(&wait_mu_);
  if (wait_status_.has_value())
    return absl::FailedPreconditionError("child already reaped");
  if (kill(pid_, signal) != 0) return ErrnoError("kill", errno);
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&wait_mu_);
  if (!ReapWithinLocked(timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("child ", pid_, " still running after ",
                     absl::FormatDuration(timeout)));
  }
  return *wait_status_;
}

int ChildProcess::Stop() {
  absl::MutexLock lock(&wait_mu_);
  if (wait_status_.has_value()) return *wait_status_;
  kill(pid_, SIGTERM);
  if (!ReapWithinLocked(options_.term_grace)) {
    kill(pid_, SIGKILL);
    ReapWithinLocked(absl::InfiniteDuration());
  }
  return *wait_status_;
}

bool ChildProcess::ReapWithinLocked(absl::Duration timeout) {
  if (wait_status_.has_value()) return true;
  if (!AwaitExit(pid_, timeout)) return false;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) break;
  }
  wait_status_ = status;
  return true;
}

void ChildProcess::ReadLoop() {
  std::string pending;
  char buffer[4096];
  pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      AddLine(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  if (!pending.empty()) AddLine(std::move(pending));
  absl::MutexLock lock(&mu_);
  stdout_closed_ = true;
}

void ChildProcess::AddLine(std::string line) {
  // One write per line, so concurrent writers to stderr do not interleave
  // inside it.
  std::string forwarded = absl::StrCat(options_.log_prefix, line, "\n");
  for (size_t done = 0; done < forwarded.size();) {
    ssize_t n =
        write(STDERR_FILENO, forwarded.data() + done, forwarded.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  absl::MutexLock lock(&mu_);
  lines_.push_back(std::move(line));
  if (lines_.size() > kMaxKeptLines) lines_.pop_front();
}

}  // namespace shadowcat
