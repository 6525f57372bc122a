#ifndef SHADOWCAT_CORE_SESSION_LISTEN_FILTER_H_
#define SHADOWCAT_CORE_SESSION_LISTEN_FILTER_H_

// The notification filter of a 2026-07-28 `subscriptions/listen` request
// (patterns/subscriptions.mdx): which change notifications a session asks its
// upstream for. The server "MUST NOT send notification types the client has
// not explicitly requested", so Shadowcat asks for every list change the
// server's capabilities (from server/discover) say it sends: the backend then
// sees what the GET stream would have carried in the session era. Resource
// updates need URIs (`resourceSubscriptions`), which no Subscribe names, so
// they are not asked for. Pure.

#include <string>

#include "absl/strings/string_view.h"

namespace shadowcat {

// The filter object for `capabilities_raw` (a server's capabilities JSON):
// `toolsListChanged`, `promptsListChanged`, `resourcesListChanged` for each of
// tools, prompts, resources whose `listChanged` is true. Empty when there is
// none (or the text is not an object): the server offers nothing to listen to.
std::string ListenFilterFor(absl::string_view capabilities_raw);

// Whether a filter object (the `notifications` of an acknowledgement) honours
// nothing: not an object, or no member whose value is true or a non-empty
// array.
bool IsEmptyListenFilter(absl::string_view filter_raw);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_LISTEN_FILTER_H_
