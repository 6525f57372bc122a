#ifndef SHADOWCAT_CORE_HTTP_BEAST_STATUS_H_
#define SHADOWCAT_CORE_HTTP_BEAST_STATUS_H_

// The one place where Boost error codes from sockets, resolvers and the Beast
// HTTP parser become canonical absl::Status values (style guide section 4).

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "boost/system/error_code.hpp"

namespace shadowcat {

// OK for a clear `ec`. Otherwise: operation_aborted -> Cancelled; timeouts ->
// DeadlineExceeded; Beast's header, body and buffer limits ->
// ResourceExhausted; anything else (refused, reset, EOF, malformed response) ->
// Unavailable, since all of them mean the upstream could not be talked to. The
// message is "<context>: <error text>"; `context` says what was being done
// ("connecting to http://10.0.0.5:8080") and must hold no secret.
absl::Status ErrorCodeToStatus(const boost::system::error_code& ec,
                               absl::string_view context);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_BEAST_STATUS_H_
