#include "core/jsonrpc/json_path.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/jsonrpc/json_scan.h"

namespace shadowcat {

std::optional<absl::string_view> FindMemberPath(
    absl::string_view text, std::initializer_list<absl::string_view> path) {
  absl::string_view current = text;
  for (absl::string_view key : path) {
    absl::StatusOr<std::vector<JsonMember>> members = ScanObject(current);
    if (!members.ok()) return std::nullopt;
    const JsonMember* member = FindMember(*members, key);
    if (member == nullptr) return std::nullopt;
    current = member->raw_value;
  }
  return current;
}

std::string ReplaceSpan(absl::string_view text, absl::string_view value,
                        absl::string_view replacement) {
  const size_t begin = static_cast<size_t>(value.data() - text.data());
  return absl::StrCat(text.substr(0, begin), replacement,
                      text.substr(begin + value.size()));
}

}  // namespace shadowcat
