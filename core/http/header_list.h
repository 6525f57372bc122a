#ifndef SHADOWCAT_CORE_HTTP_HEADER_LIST_H_
#define SHADOWCAT_CORE_HTTP_HEADER_LIST_H_

// HTTP headers as a list (order and repeats kept), shared by the client, the
// servers and the test peers.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), or nullptr.
inline const std::string* FindHeader(const HeaderList& headers,
                                     absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

// As FindHeader(), but "" when absent.
inline std::string HeaderOrEmpty(const HeaderList& headers,
                                 absl::string_view name) {
  const std::string* value = FindHeader(headers, name);
  return value != nullptr ? *value : std::string();
}

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_HEADER_LIST_H_
