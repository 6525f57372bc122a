#include "server/startup_policy.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shadowcat {

absl::StatusOr<UpstreamPlan> PlanUpstreams(bool bare_invocation,
                                           bool allowlist_empty,
                                           bool demo_flag) {
  UpstreamPlan plan;
  if (bare_invocation) {
    plan.demo_upstream = true;
    plan.implicit_demo = true;
    return plan;
  }
  if (allowlist_empty && !demo_flag) {
    return absl::InvalidArgumentError(
        "--allowed_upstreams is empty, so every OpenSession would be denied; "
        "name the upstreams backends may use (e.g. "
        "--allowed_upstreams=https://mcp.internal/mcp), or pass "
        "--demo_upstream to run the built-in demo upstream");
  }
  plan.demo_upstream = demo_flag;
  return plan;
}

std::vector<std::string> ShadowcatVariables(
    const std::vector<absl::string_view>& environment) {
  std::vector<std::string> names;
  for (absl::string_view entry : environment) {
    if (!absl::StartsWith(entry, "SHADOWCAT_")) continue;
    names.emplace_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

std::vector<std::string> UnknownShadowcatVariables(
    const std::vector<std::string>& variables,
    const std::vector<std::string>& flag_names) {
  absl::flat_hash_set<std::string> known;
  for (const std::string& flag : flag_names) {
    known.insert(absl::StrCat("SHADOWCAT_", absl::AsciiStrToUpper(flag)));
  }
  std::vector<std::string> unknown;
  for (const std::string& variable : variables) {
    if (!known.contains(variable)) unknown.push_back(variable);
  }
  std::sort(unknown.begin(), unknown.end());
  return unknown;
}

}  // namespace shadowcat
