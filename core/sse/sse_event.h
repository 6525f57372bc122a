#ifndef SHADOWCAT_CORE_SSE_SSE_EVENT_H_
#define SHADOWCAT_CORE_SSE_SSE_EVENT_H_

#include <string>

namespace shadowcat {

// One dispatched server-sent event (WHATWG HTML §9.2.6). All three strings are
// raw bytes from the stream: the parser does not validate UTF-8, the JSON-RPC
// layer does (SH-08).
struct SseEvent {
  // The `event` field's value, or "message" when the event had none or an empty
  // one.
  std::string type;
  // The `data` lines joined with "\n". Can be empty: a lone `data:` line
  // dispatches an event with data "" (the MCP priming event, RZ-04), so
  // consumers skip empty data before JSON parsing instead of reporting a parse
  // error.
  std::string data;
  // The last-event-ID buffer at dispatch: the latest `id` field of this stream,
  // sticky for events that carry none. Opaque (RZ-08); never contains NUL, CR
  // or LF, so it is always a valid Last-Event-ID header value.
  std::string id;

  friend bool operator==(const SseEvent&, const SseEvent&) = default;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SSE_SSE_EVENT_H_
