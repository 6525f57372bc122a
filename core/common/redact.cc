#include "core/common/redact.h"

#include "absl/strings/str_cat.h"

namespace shadowcat {

std::string RedactUrl(absl::string_view url) {
  std::string out;
  size_t rest = 0;
  if (size_t scheme_end = url.find("://"); scheme_end != url.npos) {
    const size_t authority_begin = scheme_end + 3;
    size_t authority_end = url.find_first_of("/?#", authority_begin);
    if (authority_end == url.npos) authority_end = url.size();
    absl::string_view authority =
        url.substr(authority_begin, authority_end - authority_begin);
    if (size_t at = authority.rfind('@'); at != authority.npos) {
      authority.remove_prefix(at + 1);
    }
    absl::StrAppend(&out, url.substr(0, authority_begin), authority);
    rest = authority_end;
  }
  const size_t query = url.find_first_of("?#", rest);
  absl::StrAppend(&out, url.substr(rest, query - rest));
  if (query != url.npos) out.append("?<redacted>");
  return out;
}

std::string RedactId(absl::string_view id) {
  if (id.size() < 16) return absl::StrCat("<redacted>(", id.size(), ")");
  return absl::StrCat(id.substr(0, 6), "...(", id.size(), ")");
}

}  // namespace shadowcat
