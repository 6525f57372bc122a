#ifndef SHADOWCAT_CORE_HTTP_URL_H_
#define SHADOWCAT_CORE_HTTP_URL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

// An absolute http(s) URL split into what an HTTP/1.1 client needs.
struct Url {
  std::string scheme;  // "http" or "https", lower-cased
  std::string host;    // lower-cased; IPv6 literals canonical (RFC 5952),
                       // without brackets
  uint16_t port = 0;   // explicit or the scheme's default
  std::string
      target;  // path and query, "/" when empty; never contains a fragment

  // "http://host:port" with the port always present (IPv6 in brackets): a pool
  // key.
  std::string Origin() const;
  // The Host header value: host, plus ":port" when not the scheme's default.
  std::string HostHeader() const;
  // The whole URL again, normalized.
  std::string ToString() const;
};

// Parses an absolute http:// or https:// URL. InvalidArgument for anything
// else: other schemes, userinfo, empty host, bad port, spaces or control
// characters.
absl::StatusOr<Url> ParseUrl(absl::string_view text);

// Resolves a URI reference against `base` (RFC 3986 section 5.2): absolute
// http(s) URLs, network-path ("//host/p"), absolute-path ("/p?q"), query-only
// ("?q") and relative-path ("p") references. The fragment is dropped. The
// result is parsed like ParseUrl, so userinfo and control characters are
// refused.
absl::StatusOr<Url> ResolveReference(const Url& base,
                                     absl::string_view reference);

// RFC 3986 section 5.2.4 remove_dot_segments on an absolute path (no query):
// "/a/./b/../c" -> "/a/c", "/a/.." -> "/". Only literal "." and ".." segments
// count; percent-encoded dots are left alone (callers that care refuse them).
// Pure.
std::string RemoveDotSegments(absl::string_view path);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_URL_H_
