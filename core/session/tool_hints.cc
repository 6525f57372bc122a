#include "core/session/tool_hints.h"

#include <optional>
#include <vector>

#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/json_scan.h"

namespace shadowcat {

void ToolHints::Learn(absl::string_view tools_list_result_raw) {
  std::optional<absl::string_view> tools =
      FindMemberPath(tools_list_result_raw, {"tools"});
  if (!tools.has_value()) return;
  absl::StatusOr<std::vector<absl::string_view>> listed = ScanArray(*tools);
  if (!listed.ok()) return;
  for (absl::string_view tool : *listed) {
    std::optional<absl::string_view> name_raw = FindMemberPath(tool, {"name"});
    if (!name_raw.has_value()) continue;
    absl::StatusOr<std::string> name = UnescapeJsonString(*name_raw);
    if (!name.ok()) continue;
    std::optional<absl::string_view> hint =
        FindMemberPath(tool, {"annotations", "idempotentHint"});
    if (hint.has_value() && *hint == "true") {
      if (idempotent_.size() < kMaxTools) idempotent_.insert(*std::move(name));
    } else {
      idempotent_.erase(*name);
    }
  }
}

bool ToolHints::IsIdempotentToolCall(absl::string_view request_json) const {
  if (idempotent_.empty()) return false;
  std::optional<absl::string_view> method =
      FindMemberPath(request_json, {"method"});
  if (!method.has_value() || *method != "\"tools/call\"") return false;
  std::optional<absl::string_view> name_raw =
      FindMemberPath(request_json, {"params", "name"});
  if (!name_raw.has_value()) return false;
  absl::StatusOr<std::string> name = UnescapeJsonString(*name_raw);
  return name.ok() && idempotent_.contains(*name);
}

}  // namespace shadowcat
