#ifndef SHADOWCAT_SERVER_STARTUP_POLICY_H_
#define SHADOWCAT_SERVER_STARTUP_POLICY_H_

// Start-up decisions that must never surprise an operator, as pure functions
// main.cc applies (and tests check without a process):
// - which upstreams run: the demo only for a bare `shadowcat` (no flag, no
//   SHADOWCAT_* variable), announced loudly; otherwise an empty allowlist is an
//   error unless --demo_upstream asks for the demo explicitly;
// - SHADOWCAT_* variables that name no flag (a typo would otherwise leave a
//   setting at its default without a word).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

struct UpstreamPlan {
  // Start the built-in demo upstream and allow it.
  bool demo_upstream = false;
  // The demo was chosen because nothing was configured: say so loudly.
  bool implicit_demo = false;
};

// `bare_invocation`: no command-line argument and no SHADOWCAT_* variable.
// InvalidArgument naming --allowed_upstreams when no upstream could ever be
// opened.
absl::StatusOr<UpstreamPlan> PlanUpstreams(bool bare_invocation,
                                           bool allowlist_empty,
                                           bool demo_flag);

// The SHADOWCAT_* names in `environment` ("NAME=value" entries, as environ).
std::vector<std::string> ShadowcatVariables(
    const std::vector<absl::string_view>& environment);

// The variables of `variables` that map to no flag in `flag_names`
// (SHADOWCAT_<FLAG> with the flag name upper-cased), sorted.
std::vector<std::string> UnknownShadowcatVariables(
    const std::vector<std::string>& variables,
    const std::vector<std::string>& flag_names);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_STARTUP_POLICY_H_
