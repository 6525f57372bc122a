#ifndef SHADOWCAT_SERVER_CALLER_AUTH_H_
#define SHADOWCAT_SERVER_CALLER_AUTH_H_

// The optional bearer token callers of the gRPC API must send as
// "authorization: Bearer <token>". The token lives in a file (a Kubernetes
// Secret mount) and is re-read when Reload() runs, so a rotated Secret takes
// effect without a restart. Only the SHA-256 of the token is kept; presented
// credentials are hashed too and compared with CRYPTO_memcmp, so neither the
// time taken nor an early exit reveals how much of a guess was right, and the
// token's length leaks through no comparison.
//
// Thread-safe: Check() runs on gRPC threads, Reload() on any thread.

#include <array>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace shadowcat {

class CallerAuth {
 public:
  // Reads `token_file` now. FailedPrecondition when it cannot be read,
  // InvalidArgument when it holds no token.
  static absl::StatusOr<std::unique_ptr<CallerAuth>> Create(
      std::string token_file);

  // Re-reads the file. A file that became unreadable or empty keeps the last
  // good token (a Secret update is a rename; a half-written file must not
  // lock every caller out) and returns the error for the log.
  absl::Status Reload();

  // OK when `authorization` is "Bearer <token>" (scheme case-insensitive, as
  // RFC 7235 says); Unauthenticated otherwise. The message never echoes the
  // value.
  absl::Status Check(absl::string_view authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  explicit CallerAuth(std::string token_file)
      : token_file_(std::move(token_file)) {}

  const std::string token_file_;
  mutable absl::Mutex mu_;
  Digest token_digest_ ABSL_GUARDED_BY(mu_) = {};
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_CALLER_AUTH_H_
