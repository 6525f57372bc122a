#ifndef SHADOWCAT_SERVER_CALL_REACTOR_H_
#define SHADOWCAT_SERVER_CALL_REACTOR_H_

// The unary Call as a core EventSink: the response fills the gRPC response
// and finishes the call. Unlike DefaultReactor it sees OnCancel, so a backend
// that gives up (or whose deadline passes) cancels the upstream request too
// (CN-01) and frees its connection slot at once.
//
// Threading: EventSink methods run on the session's strand; OnCancel/OnDone on
// gRPC threads; a mutex orders them. Lifetime: self-held until OnDone, like
// StreamReactor.

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/session/event_sink.h"
#include "grpcpp/grpcpp.h"
#include "server/conversions.h"
#include "shadowcat/v1/shadowcat.pb.h"

namespace shadowcat {

class CallReactor : public grpc::ServerUnaryReactor, public EventSink {
 public:
  // `on_cancel` gets the call's handle; runs on a gRPC thread, at most once.
  static std::shared_ptr<CallReactor> Create(
      v1::CallResponse* response,
      std::function<void(const std::string& handle)> on_cancel);

  CallReactor(v1::CallResponse* response,
              std::function<void(const std::string&)> on_cancel)
      : response_(response), on_cancel_(std::move(on_cancel)) {}

  // EventSink:
  void SetResumeCallback(absl::AnyInvocable<void()>) override {}
  void Started(const std::string& request_handle) override;
  // A unary call has no stream to show messages on.
  PushResult Push(ServerMessage) override { return PushResult::kOk; }
  void Finish(absl::StatusOr<RpcResult> outcome) override;

  // grpc::ServerUnaryReactor:
  void OnCancel() override;
  void OnDone() override;

 private:
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  v1::CallResponse* const response_;
  const std::function<void(const std::string&)> on_cancel_;
  absl::Mutex mu_;
  std::shared_ptr<CallReactor> self_ ABSL_GUARDED_BY(mu_);
  std::string handle_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_CALL_REACTOR_H_
