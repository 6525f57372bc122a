#include "core/http/upstream_allowlist.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace shadowcat {
namespace {

// Path of `url` without its query, for prefix comparison.
absl::string_view PathOf(const Url& url) {
  absl::string_view target = url.target;
  return target.substr(0, target.find('?'));
}

bool PathAllowed(absl::string_view prefix, absl::string_view path) {
  prefix = absl::StripSuffix(prefix, "/");
  if (prefix.empty()) return true;  // the whole origin
  if (!absl::StartsWith(path, prefix)) return false;
  // Segment boundary: "/mcp" allows "/mcp" and "/mcp/x" but not "/mcpx".
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace

absl::StatusOr<UpstreamAllowlist> UpstreamAllowlist::Create(
    const std::vector<std::string>& entries) {
  std::vector<Url> urls;
  for (const std::string& entry : entries) {
    if (entry.empty()) continue;
    absl::StatusOr<Url> url = ParseUrl(entry);
    if (!url.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "allowed upstream \"", entry, "\": ", url.status().message()));
    }
    urls.push_back(*std::move(url));
  }
  return UpstreamAllowlist(std::move(urls));
}

absl::Status UpstreamAllowlist::Check(const Url& url) const {
  for (const Url& entry : entries_) {
    if (entry.Origin() == url.Origin() &&
        PathAllowed(PathOf(entry), PathOf(url))) {
      return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat("upstream ", url.Origin(),
                   " is not on the allowlist (--allowed_upstreams)"));
}

}  // namespace shadowcat
