#ifndef SHADOWCAT_CORE_HTTP_UPSTREAM_ALLOWLIST_H_
#define SHADOWCAT_CORE_HTTP_UPSTREAM_ALLOWLIST_H_

// Which upstream URLs a backend may make the sidecar call (SSRF guard, design
// section 6). Immutable after construction, so safe to share between threads.
// Pure: no I/O.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/http/url.h"

namespace shadowcat {

class UpstreamAllowlist {
 public:
  // Each entry is an absolute URL prefix: "http://10.0.0.5:8080" allows that
  // whole origin, "http://127.0.0.1:3000/mcp" allows /mcp and paths below it
  // (/mcp/x, not /mcpx). Scheme, host and port form the origin, so http and
  // https are different entries. Empty strings are skipped (a trailing comma
  // in the flag). Any other entry must pass ValidateEntry(); the first that
  // does not fails the whole list, so start-up stops.
  static absl::StatusOr<UpstreamAllowlist> Create(
      const std::vector<std::string>& entries);

  // OK when `entry` means exactly what it says. InvalidArgument, naming the
  // entry, for: anything ParseUrl refuses (a scheme other than http/https,
  // userinfo, a bad port or host); a ':' with no port ("http://10.0.0.5:",
  // which would silently mean port 80); a query or fragment; a path with "."
  // or ".." segments, a backslash, or a percent-encoded dot, slash or
  // backslash.
  static absl::Status ValidateEntry(absl::string_view entry);

  // OK, or PermissionDenied saying the upstream is not allowed (the URL is not
  // echoed in full: it may carry a token in its query). A path with "." or
  // ".." segments (also as "..;"), a backslash, or a percent-encoded dot,
  // slash or backslash is refused whatever the entries say: an upstream or
  // proxy that normalises paths would serve something else than the prefix
  // we checked (F4).
  absl::Status Check(const Url& url) const;

  bool empty() const { return entries_.empty(); }

 private:
  explicit UpstreamAllowlist(std::vector<Url> entries)
      : entries_(std::move(entries)) {}
  std::vector<Url> entries_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_UPSTREAM_ALLOWLIST_H_
