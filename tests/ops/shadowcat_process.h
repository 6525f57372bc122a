#ifndef SHADOWCAT_TESTS_OPS_SHADOWCAT_PROCESS_H_
#define SHADOWCAT_TESTS_OPS_SHADOWCAT_PROCESS_H_

// The real shadowcat binary ($SHADOWCAT_BINARY, set by the BUILD target) as a
// child process whose stderr (every log line) goes to a file the test reads,
// for tests of flags, start-up refusals and log contents.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/fakes/child_process.h"

namespace shadowcat {

class ShadowcatProcess {
 public:
  // Starts the binary with `args`; `env` ("NAME=value") is added to the
  // environment. The test's own SHADOWCAT_BINARY is removed from the child's
  // environment, as a deployment would not have it.
  static absl::StatusOr<std::unique_ptr<ShadowcatProcess>> Start(
      const std::vector<std::string>& args,
      const std::vector<std::string>& env = {});

  // Everything written to stderr so far.
  std::string log() const;
  // The gRPC port from the start-up line, once it appears; 0 when the process
  // exits first or 30 s pass.
  int WaitForGrpcPort();
  // Waits for the process to exit (after SIGTERM when `terminate`); its exit
  // code, or -1 when it did not exit normally in time.
  int Exit(bool terminate, absl::Duration timeout = absl::Seconds(20));

  ChildProcess& child() { return *child_; }

 private:
  std::string log_path_;
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_OPS_SHADOWCAT_PROCESS_H_
