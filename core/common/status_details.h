#ifndef SHADOWCAT_CORE_COMMON_STATUS_DETAILS_H_
#define SHADOWCAT_CORE_COMMON_STATUS_DETAILS_H_

// Machine-readable details carried by an absl::Status from core/ to the gRPC
// edge, shaped like google.rpc.ErrorInfo (a reason and string metadata) so
// server/conversions turns them into one without core/ knowing protobuf.
// They travel as an absl::Status payload, which copies of the status keep and
// a status rebuilt from code and message drops. Pure.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

// ErrorInfo.domain of every detail Shadowcat attaches.
inline constexpr char kErrorDomain[] = "shadowcat.v1";

struct StatusDetails {
  // ErrorInfo.reason: UPPER_SNAKE_CASE, from a closed set (upstream_errors.h).
  std::string reason;
  // ErrorInfo.metadata, in insertion order; keys are lower_snake_case.
  std::vector<std::pair<std::string, std::string>> metadata;

  // The value of `key`, or nullopt.
  std::optional<std::string> Find(absl::string_view key) const;
};

// Attaches `details` to a non-OK `status` (replacing earlier ones); an OK
// status stays as it is.
void SetStatusDetails(absl::Status& status, const StatusDetails& details);

// `status` with `prefix` before its message, its code and details kept.
absl::Status PrefixStatusMessage(const absl::Status& status,
                                 absl::string_view prefix);

// `status` with `suffix` after its message, its code and details kept.
absl::Status SuffixStatusMessage(const absl::Status& status,
                                 absl::string_view suffix);

// The details attached to `status`, if any.
std::optional<StatusDetails> GetStatusDetails(const absl::Status& status);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_COMMON_STATUS_DETAILS_H_
