#ifndef SHADOWCAT_CORE_SESSION_EVENT_SINK_H_
#define SHADOWCAT_CORE_SESSION_EVENT_SINK_H_

// The one seam between core/ and the gRPC side: a client-facing stream that
// receives what a session routes to it. server/ implements it with stream
// reactors; core/ never sees gRPC.
//
// Threading: the session calls every method on its strand, one at a time. An
// implementation may be touched concurrently by its own transport (gRPC
// threads) and synchronizes itself. Flow control: Push() returning kPaused
// means "accepted, but stop reading upstream"; the sink later calls the resume
// callback (from any thread) once it drained to its low watermark, and the
// session resumes reading on its strand.

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "core/session/rpc_result.h"

namespace shadowcat {

// A request or notification the upstream sent to the client.
struct ServerMessage {
  std::string json;  // the whole message, byte for byte (progress tokens
                     // mapped back to the caller's own, PX-02)
  std::string method;
  std::string id_raw;     // the server's request id; empty for notifications
  std::string event_id;   // the SSE event id that carried it, if any
  uint64_t sequence = 0;  // Subscribe only: the session's sequence number
};

class EventSink {
 public:
  enum class PushResult { kOk, kPaused, kClosed };

  virtual ~EventSink() = default;

  // Called once, before anything else: the function that resumes the producer
  // after a kPaused. Callable from any thread, any number of times.
  virtual void SetResumeCallback(absl::AnyInvocable<void()> resume) = 0;

  // A call's handle, for Cancel (call sinks only); before any Push().
  virtual void Started(const std::string& request_handle) {}

  // Delivers one message. kClosed: the client is gone; stop sending to it.
  virtual PushResult Push(ServerMessage message) = 0;

  // Ends the stream: a call's response (a result, possibly a JSON-RPC error)
  // or why it failed. A subscription ends with an empty result when it ended
  // normally (the session closed), else with the error. Nothing follows.
  virtual void Finish(absl::StatusOr<RpcResult> outcome) = 0;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_EVENT_SINK_H_
