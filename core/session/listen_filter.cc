#include "core/session/listen_filter.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/json_scan.h"

namespace shadowcat {

std::string ListenFilterFor(absl::string_view capabilities_raw) {
  struct Kind {
    absl::string_view capability;
    absl::string_view filter_key;
  };
  constexpr Kind kKinds[] = {{"tools", "toolsListChanged"},
                             {"prompts", "promptsListChanged"},
                             {"resources", "resourcesListChanged"}};
  std::string members;
  for (const Kind& kind : kKinds) {
    std::optional<absl::string_view> changes =
        FindMemberPath(capabilities_raw, {kind.capability, "listChanged"});
    if (!changes.has_value() || *changes != "true") continue;
    absl::StrAppend(&members, members.empty() ? "" : ",", "\"", kind.filter_key,
                    "\":true");
  }
  if (members.empty()) return "";
  return absl::StrCat("{", members, "}");
}

bool IsEmptyListenFilter(absl::string_view filter_raw) {
  absl::StatusOr<std::vector<JsonMember>> members = ScanObject(filter_raw);
  if (!members.ok()) return true;
  for (const JsonMember& member : *members) {
    if (member.type == JsonType::kBool && member.raw_value == "true") {
      return false;
    }
    if (member.type == JsonType::kArray) {
      absl::StatusOr<std::vector<absl::string_view>> items =
          ScanArray(member.raw_value);
      if (items.ok() && !items->empty()) return false;
    }
  }
  return true;
}

}  // namespace shadowcat
