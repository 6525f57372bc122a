#ifndef SHADOWCAT_CORE_SESSION_TOOL_HINTS_H_
#define SHADOWCAT_CORE_SESSION_TOOL_HINTS_H_

// Which tools of one upstream declare `annotations.idempotentHint: true`,
// learned from the tools/list results that pass through its session, so that
// session recovery (SM-06/SM-08) may send such a tools/call again when the
// upstream forgot the session while it ran: calling the tool twice with the
// same arguments has no more effect than once, by the server's own word.
// A hint is the server's claim about its own tool, so trusting it risks only
// that server's tool. Pure, bounded; strand-confined like its session.

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

class ToolHints {
 public:
  // Tools remembered at most; a server listing more is rare, and forgetting
  // only means "not retried".
  static constexpr size_t kMaxTools = 4096;

  // Reads a tools/list result (one page): each tool listed with the hint true
  // is remembered, each listed without it is forgotten (its definition
  // changed). Tools on other pages are left as they are. Invalid text is
  // ignored.
  void Learn(absl::string_view tools_list_result_raw);

  // Whether `request_json` (a whole JSON-RPC request, as sent) is a tools/call
  // of a tool remembered as idempotent.
  bool IsIdempotentToolCall(absl::string_view request_json) const;

  size_t size() const { return idempotent_.size(); }

 private:
  absl::flat_hash_set<std::string> idempotent_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_TOOL_HINTS_H_
