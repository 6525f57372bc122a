#include "core/http/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace shadowcat {
namespace {

uint16_t DefaultPort(absl::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

// RFC 3986 reg-name, minus percent-encoding and sub-delims: DNS names and IPv4
// literals never need them, and refusing them keeps odd hosts out of Host
// headers and pool keys.
bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// The RFC 5952 text of an IPv6 literal ("0:0::1" -> "::1"), so that one
// address has one origin (pool key, allowlist comparison); nullopt if invalid.
std::optional<std::string> CanonicalIpv6(const std::string& host) {
  in6_addr addr;
  if (inet_pton(AF_INET6, host.c_str(), &addr) != 1) return std::nullopt;
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, &addr, text, sizeof(text)) == nullptr) {
    return std::nullopt;
  }
  return std::string(text);
}

std::string BracketedHost(const std::string& host) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]")
                                             : host;
}

}  // namespace

std::string Url::Origin() const {
  return absl::StrCat(scheme, "://", BracketedHost(host), ":", port);
}

std::string Url::HostHeader() const {
  if (port == DefaultPort(scheme)) return BracketedHost(host);
  return absl::StrCat(BracketedHost(host), ":", port);
}

std::string Url::ToString() const {
  return absl::StrCat(scheme, "://", HostHeader(), target);
}

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  // Messages never echo the URL: its query may carry a token.
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return absl::InvalidArgumentError(
          "url contains a space, control or non-ASCII character");
    }
  }
  const size_t scheme_end = text.find("://");
  if (scheme_end == absl::string_view::npos || scheme_end == 0) {
    return absl::InvalidArgumentError("url is not absolute (no scheme)");
  }
  Url url;
  url.scheme = absl::AsciiStrToLower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return absl::InvalidArgumentError("url scheme is not http or https");
  }

  absl::string_view rest = text.substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  const absl::string_view authority = rest.substr(0, authority_end);
  const absl::string_view tail = authority_end == absl::string_view::npos
                                     ? ""
                                     : rest.substr(authority_end);
  if (authority.find('@') != absl::string_view::npos) {
    return absl::InvalidArgumentError("url must not contain userinfo");
  }

  absl::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("url has an unterminated IPv6 literal");
    }
    std::optional<std::string> host =
        CanonicalIpv6(std::string(authority.substr(1, close - 1)));
    if (!host.has_value()) {
      return absl::InvalidArgumentError("url has an invalid IPv6 literal");
    }
    url.host = *std::move(host);
    const absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(
            "url has junk after the IPv6 literal");
      }
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = authority.rfind(':');
    const absl::string_view host = authority.substr(0, colon);
    if (colon != absl::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    for (char c : host) {
      if (!IsHostChar(c))
        return absl::InvalidArgumentError("url host has an invalid character");
    }
    url.host = absl::AsciiStrToLower(host);
  }
  if (url.host.empty())
    return absl::InvalidArgumentError("url has an empty host");

  url.port = DefaultPort(url.scheme);
  // "http://host:/" is legal (RFC 3986 section 3.2.3) and means the default
  // port.
  if (has_port && !port_text.empty()) {
    uint32_t port = 0;
    const bool digits_only =
        port_text.size() <= 5 &&
        port_text.find_first_not_of("0123456789") == absl::string_view::npos;
    if (!digits_only || !absl::SimpleAtoi(port_text, &port) || port == 0 ||
        port > 65535) {
      return absl::InvalidArgumentError("url has an invalid port");
    }
    url.port = static_cast<uint16_t>(port);
  }

  const absl::string_view target = tail.substr(0, tail.find('#'));
  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = absl::StrCat("/", target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

std::string RemoveDotSegments(absl::string_view path) {
  // The output buffer of section 5.2.4, as a stack of segments: each kept
  // segment is "/name"; ".." pops one.
  std::string out;
  absl::string_view in = path;
  while (!in.empty()) {
    if (absl::StartsWith(in, "../")) {  // A. (relative prefixes)
      in.remove_prefix(3);
    } else if (absl::StartsWith(in, "./")) {
      in.remove_prefix(2);
    } else if (absl::StartsWith(in, "/./")) {  // B.
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (absl::StartsWith(in, "/../")) {  // C.
      in.remove_prefix(3);
      out.erase(std::min(out.size(), out.rfind('/')));
    } else if (in == "/..") {
      in = "/";
      out.erase(std::min(out.size(), out.rfind('/')));
    } else if (in == "." || in == "..") {  // D.
      in = "";
    } else {  // E. Move the first segment, with its leading '/', to out.
      const size_t next = in.find('/', in.front() == '/' ? 1 : 0);
      const absl::string_view segment = in.substr(0, next);
      out.append(segment.data(), segment.size());
      in.remove_prefix(segment.size());
    }
  }
  return out;
}

absl::StatusOr<Url> ResolveReference(const Url& base,
                                     absl::string_view reference) {
  reference = absl::StripAsciiWhitespace(reference);
  reference = reference.substr(0, reference.find('#'));
  const size_t colon = reference.find(':');
  const size_t first_delim = reference.find_first_of("/?");
  if (colon != absl::string_view::npos &&
      (first_delim == absl::string_view::npos || colon < first_delim)) {
    return ParseUrl(reference);  // has a scheme: absolute
  }
  if (absl::StartsWith(reference, "//")) {
    return ParseUrl(absl::StrCat(base.scheme, ":", reference));
  }
  const absl::string_view base_path =
      absl::string_view(base.target).substr(0, base.target.find('?'));
  std::string path;
  absl::string_view query;
  if (absl::StartsWith(reference, "?")) {
    path = std::string(base_path);
    query = reference;
  } else {
    const size_t q = reference.find('?');
    const absl::string_view ref_path = reference.substr(0, q);
    if (q != absl::string_view::npos) query = reference.substr(q);
    if (absl::StartsWith(ref_path, "/")) {
      path = std::string(ref_path);
    } else {
      // Merge (5.2.3): the base path up to its last slash, then the reference.
      path =
          absl::StrCat(base_path.substr(0, base_path.rfind('/') + 1), ref_path);
    }
  }
  return ParseUrl(absl::StrCat(base.scheme, "://", base.HostHeader(),
                               RemoveDotSegments(path), query));
}

}  // namespace shadowcat
