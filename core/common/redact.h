#ifndef SHADOWCAT_CORE_COMMON_REDACT_H_
#define SHADOWCAT_CORE_COMMON_REDACT_H_

// What may be logged of values that carry credentials (design section 6):
// pure string functions, no I/O, for every log site that names a URL or an id.

#include <string>

#include "absl/strings/string_view.h"

namespace shadowcat {

// "https://user:pw@host:8443/mcp?token=x#f" ->
// "https://host:8443/mcp?<redacted>": userinfo dropped, query and fragment
// replaced (either may hold a token). Text without "://" is treated as a path.
std::string RedactUrl(absl::string_view url);

// A session handle or upstream Mcp-Session-Id, either of which grants use of
// a session: its first 6 characters and length, enough to correlate lines
// ("3f9a1c...(32)"); ids shorter than 16 characters show none.
std::string RedactId(absl::string_view id);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_COMMON_REDACT_H_
