#include "server/call_reactor.h"

#include <utility>

#include "server/tsan_handoff.h"

namespace shadowcat {

std::shared_ptr<CallReactor> CallReactor::Create(
    v1::CallResponse* response,
    std::function<void(const std::string&)> on_cancel) {
  auto reactor = std::make_shared<CallReactor>(response, std::move(on_cancel));
  {
    absl::MutexLock lock(&reactor->mu_);
    reactor->self_ = reactor;
  }
  TsanPublished(reactor.get());
  return reactor;
}

void CallReactor::Started(const std::string& request_handle) {
  absl::MutexLock lock(&mu_);
  handle_ = request_handle;
}

void CallReactor::Finish(absl::StatusOr<RpcResult> outcome) {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  if (outcome.ok()) ToProto(*outcome, response_);
  FinishLocked(ToGrpcStatus(outcome.status()));
}

void CallReactor::OnCancel() {
  TsanAdopted(this);
  std::string handle;
  {
    absl::MutexLock lock(&mu_);
    handle = handle_;
    // Finish now: the session may no longer know the call.
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
  }
  if (on_cancel_) on_cancel_(handle);
  // gRPC runs OnDone only after this returns; OnDone's Adopted() sees it.
  TsanPublished(this);
}

void CallReactor::OnDone() {
  TsanAdopted(this);
  std::shared_ptr<CallReactor> self;
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    self = std::move(self_);
  }
  // `self` may be the last reference: released here, after the lock.
}

void CallReactor::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  ServerUnaryReactor::Finish(status);
}

}  // namespace shadowcat
