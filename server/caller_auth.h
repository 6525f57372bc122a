#ifndef SHADOWCAT_SERVER_CALLER_AUTH_H_
#define SHADOWCAT_SERVER_CALLER_AUTH_H_

// The optional bearer token callers of the gRPC API must send as
// "authorization: Bearer <token>". The token lives in a file (a Kubernetes
// Secret mount) and is re-read every reload interval by a thread of its own,
// so a rotated Secret takes effect without a restart and no file is ever read
// on a gRPC or Asio I/O thread: Check() only hashes and compares in memory.
// Only the SHA-256 of the token is kept; presented credentials are hashed too
// and compared with CRYPTO_memcmp, so neither the time taken nor an early exit
// reveals how much of a guess was right, and the token's length leaks through
// no comparison.
//
// Thread-safe: Check() runs on gRPC threads, Reload() on any thread. The
// destructor stops and joins the reload thread.

#include <array>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace shadowcat {

class CallerAuth {
 public:
  // Reads `token_file` now (on the caller's thread, at start-up), then every
  // `reload_interval` on the reload thread; a zero or negative interval
  // starts no thread (Reload() by hand). FailedPrecondition when the file
  // cannot be read, InvalidArgument when it holds no token.
  static absl::StatusOr<std::unique_ptr<CallerAuth>> Create(
      std::string token_file,
      absl::Duration reload_interval = absl::ZeroDuration());

  ~CallerAuth();
  CallerAuth(const CallerAuth&) = delete;
  CallerAuth& operator=(const CallerAuth&) = delete;

  // Re-reads the file (blocking file I/O: never call it on an I/O thread). A
  // file that became unreadable or empty keeps the last good token (a Secret
  // update is a rename; a half-written file must not lock every caller out)
  // and returns the error for the log.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

  // OK when `authorization` is "Bearer <token>" (scheme case-insensitive, as
  // RFC 7235 says); Unauthenticated otherwise. The message never echoes the
  // value. No I/O: safe on any thread.
  absl::Status Check(absl::string_view authorization) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Digest = std::array<unsigned char, 32>;
  explicit CallerAuth(std::string token_file)
      : token_file_(std::move(token_file)) {}

  // The reload thread: Reload() every `interval` until stop_ is notified;
  // failures are logged as warnings.
  void ReloadLoop(absl::Duration interval);

  const std::string token_file_;
  mutable absl::Mutex mu_;
  Digest token_digest_ ABSL_GUARDED_BY(mu_) = {};
  absl::Notification stop_;
  std::thread reloader_;  // not joinable without a reload interval
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_CALLER_AUTH_H_
