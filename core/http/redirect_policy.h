#ifndef SHADOWCAT_CORE_HTTP_REDIRECT_POLICY_H_
#define SHADOWCAT_CORE_HTTP_REDIRECT_POLICY_H_

// Whether an upstream's 3xx answer is followed (PX-08, SC-02). Pure.
//
// A redirect is followed only when all of these hold:
// - the status keeps the method: 307 or 308 for any method, 301, 302 or 303
//   only for GET and HEAD (a POST redirected by them would be re-sent as a
//   GET, RFC 9110 15.4, so its body and meaning would be lost);
// - its Location resolves to the same origin (scheme, host and port) as the
//   URL that answered: never to another host, port or scheme, whatever the
//   allowlist says, so an upstream cannot point the sidecar elsewhere;
// - the allowlist allows the resolved URL, as it would an OpenSession;
// - the URL was not visited by this request already (a loop), and the
//   request has made fewer than `max_hops` hops.
// The request is then re-sent unchanged (method, headers, body) to the new
// URL: the body is in memory, so it can be replayed.
//
// A refusal says why in a sentence that names the Location's origin and path
// but never its query or userinfo (they may carry secrets).

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/http/upstream_allowlist.h"
#include "core/http/url.h"

namespace shadowcat {

struct RedirectRequest {
  absl::string_view method;  // of the request that was redirected
  int status = 0;            // the 3xx
  // The Location header; nullopt when absent.
  std::optional<absl::string_view> location;
  // Every URL this request was sent to, the original first; the last one
  // answered with `status`. Never empty.
  absl::Span<const Url> visited;
  int max_hops = 3;
  // Null: no redirect is followed.
  const UpstreamAllowlist* allowlist = nullptr;
};

struct RedirectDecision {
  bool follow = false;
  Url target;           // when `follow`
  std::string refusal;  // when not: why, e.g. "its Location is on another
                        // origin, https://other:443"
};

// True for 300..399.
bool IsRedirectStatus(int status);

// What to do with a 3xx answer.
RedirectDecision DecideRedirect(const RedirectRequest& request);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_REDIRECT_POLICY_H_
