#include "core/http/upstream_allowlist.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

// Why `path` could reach somewhere else than it reads once a server or proxy
// normalises it, or empty when it cannot. Encoded dots and slashes are refused
// rather than decoded: servers disagree on whether "%2F" splits a segment, and
// any choice of ours would be wrong for some of them.
absl::string_view AmbiguousPathReason(absl::string_view path) {
  if (path.find('\\') != absl::string_view::npos) {
    return "has a backslash";
  }
  for (size_t i = path.find('%'); i != absl::string_view::npos;
       i = path.find('%', i + 1)) {
    const std::string hex = absl::AsciiStrToLower(path.substr(i + 1, 2));
    if (hex == "2e" || hex == "2f" || hex == "5c") {
      return "has a percent-encoded dot, slash or backslash";
    }
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    // Tomcat-style servers drop ";params" before resolving, so "..;x" is "..".
    segment = segment.substr(0, segment.find(';'));
    if (segment == "." || segment == "..") return "has a dot segment";
  }
  // Belt and braces: with no dot segment left, section 5.2.4 is the identity.
  if (RemoveDotSegments(path) != path) return "has a dot segment";
  return "";
}

absl::Status BadEntry(absl::string_view entry, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("allowed upstream \"", entry, "\": ", why));
}

}  // namespace

absl::Status UpstreamAllowlist::ValidateEntry(absl::string_view entry) {
  absl::StatusOr<Url> url = ParseUrl(entry);
  if (!url.ok()) return BadEntry(entry, url.status().message());
  // ParseUrl accepted it, so "://" is there and the authority ends at the
  // first of "/?#".
  absl::string_view rest = entry.substr(entry.find("://") + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  const absl::string_view authority = rest.substr(0, authority_end);
  const absl::string_view tail = authority_end == absl::string_view::npos
                                     ? absl::string_view()
                                     : rest.substr(authority_end);
  if (absl::EndsWith(authority, ":")) {
    return BadEntry(entry,
                    "has ':' but no port (write the port, or drop the ':' for "
                    "the scheme's default)");
  }
  if (tail.find('?') != absl::string_view::npos) {
    return BadEntry(entry, "has a query, which the allowlist cannot match");
  }
  if (tail.find('#') != absl::string_view::npos) {
    return BadEntry(entry, "has a fragment, which the allowlist cannot match");
  }
  if (absl::string_view why = AmbiguousPathReason(PathOf(*url)); !why.empty()) {
    return BadEntry(entry, absl::StrCat("path ", why));
  }
  return absl::OkStatus();
}

absl::StatusOr<UpstreamAllowlist> UpstreamAllowlist::Create(
    const std::vector<std::string>& entries) {
  std::vector<Url> urls;
  for (const std::string& entry : entries) {
    if (entry.empty()) continue;
    if (absl::Status status = ValidateEntry(entry); !status.ok()) {
      return status;
    }
    urls.push_back(*ParseUrl(entry));
  }
  return UpstreamAllowlist(std::move(urls));
}

absl::Status UpstreamAllowlist::Check(const Url& url) const {
  if (absl::string_view why = AmbiguousPathReason(PathOf(url)); !why.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("upstream path on ", url.Origin(), " ", why,
                     " and is refused (it could escape the allowlist)"));
  }
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
