#include "core/http/redirect_policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace shadowcat {
namespace {

// Origin and path, without the query: what a message may show of a URL.
std::string Shown(const Url& url) {
  return absl::StrCat(
      url.Origin(),
      absl::string_view(url.target).substr(0, url.target.find('?')));
}

bool KeepsMethod(int status) { return status == 307 || status == 308; }

bool BecomesGet(int status) {
  return status == 301 || status == 302 || status == 303;
}

RedirectDecision Refuse(std::string why) {
  RedirectDecision decision;
  decision.refusal = std::move(why);
  return decision;
}

}  // namespace

bool IsRedirectStatus(int status) { return status >= 300 && status < 400; }

RedirectDecision DecideRedirect(const RedirectRequest& request) {
  const int status = request.status;
  if (request.allowlist == nullptr) {
    return Refuse("redirects are not followed");
  }
  if (!KeepsMethod(status) && !BecomesGet(status)) {
    return Refuse(absl::StrCat("HTTP ", status, " names no redirect target"));
  }
  const bool safe_method = request.method == "GET" || request.method == "HEAD";
  if (BecomesGet(status) && !safe_method) {
    return Refuse(absl::StrCat("a ", request.method, " redirected by ", status,
                               " would be re-sent as a GET; only 307 and 308 "
                               "keep the method and body"));
  }
  const absl::string_view location =
      absl::StripAsciiWhitespace(request.location.value_or(""));
  if (location.empty()) return Refuse("it has no Location");
  const Url& from = request.visited.back();
  absl::StatusOr<Url> target = ResolveReference(from, location);
  if (!target.ok()) {
    // Not echoed: it may hold credentials, which is one reason it failed.
    return Refuse("its Location is not a usable http(s) URL");
  }
  if (target->Origin() != from.Origin()) {
    return Refuse(absl::StrCat("its Location is on another origin, ",
                               target->Origin(),
                               ", and redirects are followed only within the "
                               "upstream's origin (SC-02)"));
  }
  if (!request.allowlist->Check(*target).ok()) {
    return Refuse(absl::StrCat("its Location ", Shown(*target),
                               " is not allowed by --allowed_upstreams"));
  }
  for (const Url& seen : request.visited) {
    if (seen.ToString() == target->ToString()) {
      return Refuse(absl::StrCat("it loops back to ", Shown(*target),
                                 ", already visited"));
    }
  }
  if (static_cast<int>(request.visited.size()) > request.max_hops) {
    return Refuse(absl::StrCat("it would be redirect number ",
                               request.visited.size(), "; at most ",
                               request.max_hops, " are followed"));
  }
  RedirectDecision decision;
  decision.follow = true;
  decision.target = *std::move(target);
  return decision;
}

}  // namespace shadowcat
