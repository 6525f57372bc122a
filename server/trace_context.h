#ifndef SHADOWCAT_SERVER_TRACE_CONTEXT_H_
#define SHADOWCAT_SERVER_TRACE_CONTEXT_H_

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent`
// and `tracestate` a backend sends as gRPC metadata are forwarded on the
// upstream HTTP requests of that call, so one trace crosses the sidecar.
// Shadowcat is no tracing participant itself: it passes the context on
// unchanged, and drops what is malformed rather than forwarding junk (or
// header injection) to an upstream.
//
// Pure functions; no I/O.

#include <vector>

#include "absl/strings/string_view.h"
#include "core/http/header_list.h"

namespace shadowcat {

// True for a well-formed traceparent: version-traceid-parentid-flags in
// lower-case hex, the ids not all zero, version not "ff"; version 00 exactly
// 55 characters, a later version at least that with '-' after the flags.
bool IsValidTraceparent(absl::string_view value);

// True for a tracestate of at most 32 key=value members and 512 bytes, keys
// and values in the spec's character sets.
bool IsValidTracestate(absl::string_view value);

// The headers to forward: none without a valid traceparent; tracestate only
// with one and only when valid. `tracestate` is the comma-joined value of
// every tracestate entry the caller sent.
HeaderList TraceContextHeaders(absl::string_view traceparent,
                               absl::string_view tracestate);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_TRACE_CONTEXT_H_
