#ifndef SHADOWCAT_CORE_SESSION_UPSTREAM_HTTP_ERROR_H_
#define SHADOWCAT_CORE_SESSION_UPSTREAM_HTTP_ERROR_H_

// The one table from an upstream's non-2xx HTTP answer to a status. Pure.
//
// The status code comes from the HTTP status alone (HttpErrorCode; the table
// is documented in shadowcat.proto and the README). The message and the
// StatusDetails keep everything the upstream said: the HTTP status,
// Retry-After, WWW-Authenticate, and a JSON-RPC error body verbatim (SH-07).
// The body kind (JSON-RPC error, other text, none) shapes the message and the
// details, never the code.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/http/url.h"

namespace shadowcat {

// StatusDetails reasons (ErrorInfo.reason) of upstream failures.
inline constexpr char kReasonUpstreamHttpError[] = "UPSTREAM_HTTP_ERROR";
inline constexpr char kReasonUpstreamBadResponse[] = "UPSTREAM_BAD_RESPONSE";

// StatusDetails metadata keys of kReasonUpstreamHttpError.
inline constexpr char kDetailHttpStatus[] = "http_status";
inline constexpr char kDetailRetryAfterSeconds[] = "retry_after_seconds";
inline constexpr char kDetailWwwAuthenticate[] = "www_authenticate";
inline constexpr char kDetailJsonRpcCode[] = "jsonrpc_code";
inline constexpr char kDetailJsonRpcMessage[] = "jsonrpc_message";
inline constexpr char kDetailJsonRpcData[] = "jsonrpc_data";

// THE table: the status code of an upstream's non-2xx HTTP answer. Unknown
// for a status outside 300..599.
absl::StatusCode HttpErrorCode(int http_status);

// Everything an HTTP error answer said that the caller may need.
struct HttpErrorAnswer {
  int http_status = 0;
  std::string request_method;  // "POST", "GET"
  Url url;                     // named (without its query) when it is the fault
  // Tells a 404 for an expired session (SM-05) from a 404 for a URL that
  // serves no MCP endpoint; both are NotFound, the message says which.
  bool sent_session_id = false;
  std::string retry_after;       // the raw header; empty when absent
  std::string www_authenticate;  // the raw header; empty when absent
  std::string body;              // (the start of) the body
  // A 3xx: why the HTTP client did not follow it (redirect_policy.h).
  std::string redirect_refusal;
};

// The status of an HTTP error answer, with its StatusDetails. `now` dates a
// Retry-After given as an HTTP-date.
absl::Status UpstreamHttpError(const HttpErrorAnswer& answer, absl::Time now);

// A Retry-After value (RFC 9110 10.2.3: delay-seconds or an HTTP-date) as
// whole seconds from `now` (a past date is 0); nullopt when unparseable.
std::optional<int64_t> ParseRetryAfter(absl::string_view value, absl::Time now);

// "The upstream broke the protocol": Unavailable, explicitly classified so
// that OutcomeOf() counts it as kBadResponse.
absl::Status BadResponseError(absl::string_view what);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_UPSTREAM_HTTP_ERROR_H_
