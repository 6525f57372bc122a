#ifndef SHADOWCAT_CORE_SESSION_OUTCOME_SINK_H_
#define SHADOWCAT_CORE_SESSION_OUTCOME_SINK_H_

// A sink that only wants the outcome: the session's own requests (initialize,
// server/discover), whose server messages have no reader.

#include <utility>

#include "absl/functional/any_invocable.h"
#include "core/session/event_sink.h"

namespace shadowcat {

class OutcomeSink : public EventSink {
 public:
  explicit OutcomeSink(absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done)
      : done_(std::move(done)) {}
  void SetResumeCallback(absl::AnyInvocable<void()>) override {}
  PushResult Push(ServerMessage) override { return PushResult::kOk; }
  void Finish(absl::StatusOr<RpcResult> outcome) override {
    if (done_) std::exchange(done_, nullptr)(std::move(outcome));
  }

 private:
  absl::AnyInvocable<void(absl::StatusOr<RpcResult>)> done_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_OUTCOME_SINK_H_
