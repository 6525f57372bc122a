#ifndef SHADOWCAT_CORE_SESSION_PROTOCOL_VERSION_H_
#define SHADOWCAT_CORE_SESSION_PROTOCOL_VERSION_H_

// The MCP protocol versions Shadowcat negotiates (VN-01..VN-05).

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

// Offered in `initialize` when the caller names none (VN-01: the newest we
// speak).
inline constexpr absl::string_view kLatestProtocolVersion = "2025-11-25";

// The sessionless revision (section 13): no initialize and no session; a
// caller pins it in OpenSession, or an upstream that refuses initialize with
// -32022 naming it gets it (VN-10).
inline constexpr absl::string_view kModernProtocolVersion = "2026-07-28";

// The version of the legacy HTTP+SSE transport, accepted only on it (LG-01).
inline constexpr absl::string_view kLegacyProtocolVersion = "2024-11-05";

// True for 2025-11-25, 2025-06-18 and 2025-03-26.
bool IsSupportedProtocolVersion(absl::string_view version);

// OK if the caller may offer `version` (a session-era version, or the modern
// one); InvalidArgument otherwise.
absl::Status CheckOfferedVersion(absl::string_view version);

// VN-02/VN-03: OK if the upstream's answer is one we speak (it may differ from
// what we offered); FailedPrecondition otherwise.
absl::Status CheckNegotiatedVersion(absl::string_view version);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_PROTOCOL_VERSION_H_
