#ifndef SHADOWCAT_CORE_HTTP_UPSTREAM_ALLOWLIST_H_
#define SHADOWCAT_CORE_HTTP_UPSTREAM_ALLOWLIST_H_

// Which upstream URLs a backend may make the sidecar call (SSRF guard, design
// section 6). Immutable after construction, so safe to share between threads.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/http/url.h"

namespace shadowcat {

class UpstreamAllowlist {
 public:
  // Each entry is an absolute URL prefix: "http://10.0.0.5:8080" allows that
  // whole origin, "http://127.0.0.1:3000/mcp" allows /mcp and paths below it
  // (/mcp/x, not /mcpx). InvalidArgument names the entry that does not parse.
  static absl::StatusOr<UpstreamAllowlist> Create(
      const std::vector<std::string>& entries);

  // OK, or PermissionDenied saying the upstream is not allowed (the URL is not
  // echoed in full: it may carry a token in its query).
  absl::Status Check(const Url& url) const;

  bool empty() const { return entries_.empty(); }

 private:
  explicit UpstreamAllowlist(std::vector<Url> entries)
      : entries_(std::move(entries)) {}
  std::vector<Url> entries_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_UPSTREAM_ALLOWLIST_H_
