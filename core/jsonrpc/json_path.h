#ifndef SHADOWCAT_CORE_JSONRPC_JSON_PATH_H_
#define SHADOWCAT_CORE_JSONRPC_JSON_PATH_H_

// Finds and replaces one nested member's value in raw JSON text without
// re-encoding anything else, so the rest of the message stays byte for byte
// what its author sent (number precision, key order).

#include <initializer_list>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace shadowcat {

// The raw value at `path` (object keys, outermost first) inside the JSON object
// `text`, as a span into `text`; nullopt when `text` is not a valid object or
// any step is missing or not an object.
std::optional<absl::string_view> FindMemberPath(
    absl::string_view text, std::initializer_list<absl::string_view> path);

// `text` with the span `value` (which must point into `text`) replaced by
// `replacement`.
std::string ReplaceSpan(absl::string_view text, absl::string_view value,
                        absl::string_view replacement);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_JSONRPC_JSON_PATH_H_
