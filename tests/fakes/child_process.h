#ifndef SHADOWCAT_TESTS_FAKES_CHILD_PROCESS_H_
#define SHADOWCAT_TESTS_FAKES_CHILD_PROCESS_H_

// Runs a command as a child process for tests that need a real binary (the
// shadowcat executable, the TypeScript SDK interop server). Its stdout is read
// through a pipe by a reader thread: every line is forwarded to our stderr
// (prefixed, so logs stay readable) and kept for WaitForLine(), e.g. to learn
// the port from "LISTENING 41234". Its stdin is /dev/null and its stderr is
// ours.
//
// The destructor sends SIGTERM, then SIGKILL after the grace period, reaps the
// child and closes every descriptor: no zombie or fd outlives the object. Only
// the child itself is signalled, so commands should exec their server directly
// rather than through a shell.
//
// Threading: all methods may be called from any thread.

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace shadowcat {

struct ChildProcessOptions {
  // Between SIGTERM and SIGKILL when stopping. Default: 5 s.
  absl::Duration term_grace = absl::Seconds(5);
  // "NAME=value" entries added to the inherited environment (replacing
  // same-named ones).
  std::vector<std::string> env;
  // Starts each forwarded stdout line; default: "[<basename of argv[0]>] ".
  std::string log_prefix;
};

class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH when it has no slash) with `argv`. Errors:
  // InvalidArgument for an empty argv, NotFound when the program does not
  // exist, Internal when pipes or posix_spawn fail otherwise.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      std::vector<std::string> argv, ChildProcessOptions options = {});

  // Stop(), then joins the reader thread and closes the pipe.
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Returns the first stdout line (without its newline) that starts with
  // `prefix` and was not returned before. Lines up to the newest 4096 are kept,
  // so a line printed before the call is found too. Errors: DeadlineExceeded
  // after `timeout`, Unavailable when stdout closed (the child exited) without
  // such a line.
  absl::StatusOr<std::string> WaitForLine(
      absl::string_view prefix, absl::Duration timeout = absl::Seconds(10))
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sends `signal` to the child. FailedPrecondition once it has been reaped.
  absl::Status Signal(int signal) ABSL_LOCKS_EXCLUDED(wait_mu_);

  // Waits up to `timeout` for the child to exit and reaps it; returns its wait
  // status (see waitpid(2): WIFEXITED, WEXITSTATUS, ...). Repeats the status
  // once reaped. DeadlineExceeded when it is still running.
  absl::StatusOr<int> Wait(absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(wait_mu_);

  // SIGTERM, up to term_grace for the child to exit, then SIGKILL; reaps it and
  // returns the wait status. Idempotent.
  int Stop() ABSL_LOCKS_EXCLUDED(wait_mu_);

 private:
  ChildProcess(pid_t pid, int stdout_fd, int wake_read_fd, int wake_write_fd,
               ChildProcessOptions options);

  void ReadLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void AddLine(std::string line) ABSL_LOCKS_EXCLUDED(mu_);
  // Reaps the child if it exited within `timeout`. Requires wait_mu_.
  bool ReapWithinLocked(absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(wait_mu_);

  const pid_t pid_;
  const int stdout_fd_;  // read end of the child's stdout
  const int
      wake_read_fd_;  // the reader thread also polls this, to be told to exit
  const int wake_write_fd_;
  const ChildProcessOptions options_;

  absl::Mutex mu_;
  std::deque<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool stdout_closed_ ABSL_GUARDED_BY(mu_) = false;

  // Serializes waiting and signalling, so a pid is never signalled after it was
  // reaped.
  absl::Mutex wait_mu_;
  std::optional<int> wait_status_ ABSL_GUARDED_BY(wait_mu_);

  // Last: it starts in the constructor body and uses every member above.
  std::thread reader_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_FAKES_CHILD_PROCESS_H_
