#ifndef SHADOWCAT_CORE_HTTP_HEADER_POLICY_H_
#define SHADOWCAT_CORE_HTTP_HEADER_POLICY_H_

// Which caller-supplied headers may go upstream (design section 6, PX-03).

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

// OK if `name: value` may be sent upstream on the caller's behalf.
// InvalidArgument when the name is not an RFC 9110 token, the value holds CR,
// LF, NUL or other control characters (header injection), or the header is one
// the transport owns (Mcp-Session-Id, MCP-Protocol-Version, Host,
// Content-Length, Content-Type, Accept, Transfer-Encoding, Connection and other
// hop-by-hop headers). The value never appears in the message.
absl::Status CheckCallerHeader(absl::string_view name, absl::string_view value);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_HEADER_POLICY_H_
