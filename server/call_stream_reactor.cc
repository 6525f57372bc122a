#include "server/call_stream_reactor.h"

#include <utility>

#include "server/conversions.h"

namespace shadowcat {

std::shared_ptr<CallStreamReactor> CallStreamReactor::Create(
    ShadowcatMetrics& metrics) {
  auto reactor = std::make_shared<CallStreamReactor>(metrics);
  absl::MutexLock lock(&reactor->mu_);
  reactor->self_ = reactor;
  return reactor;
}

CallStreamReactor::CallStreamReactor(ShadowcatMetrics& metrics)
    : metrics_(metrics) {
  metrics_.grpc_streams_active().Increment();
}

CallStreamReactor::~CallStreamReactor() {
  metrics_.grpc_streams_active().Decrement();
}

void CallStreamReactor::PushMessage(UpstreamMessage message) {
  v1::CallStreamEvent event;
  v1::ServerMessage* out = event.mutable_message();
  out->set_message_json(std::move(message.json));
  out->set_method(std::move(message.method));
  out->set_event_id(std::move(message.event_id));
  Push(std::move(event));
}

void CallStreamReactor::PushResponse(const RpcResult& result) {
  v1::CallStreamEvent event;
  ToProto(result, event.mutable_response());
  Push(std::move(event));
}

void CallStreamReactor::Push(v1::CallStreamEvent event) {
  absl::MutexLock lock(&mu_);
  if (finished_ || finish_pending_) return;
  size_t bytes = event.ByteSizeLong();
  if (queued_bytes_ + bytes > kMaxQueuedBytes) {
    queue_.clear();
    queued_bytes_ = 0;
    final_status_ =
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "the caller reads the stream too slowly; queued messages "
                     "exceeded the per-stream bound");
    finish_pending_ = true;
    if (!writing_) StartNextLocked();
    return;
  }
  queued_bytes_ += bytes;
  queue_.push_back(std::move(event));
  if (!writing_) StartNextLocked();
}

void CallStreamReactor::Close(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (finished_ || finish_pending_) return;
  final_status_ = ToGrpcStatus(status);
  finish_pending_ = true;
  if (!writing_) StartNextLocked();
}

void CallStreamReactor::StartNextLocked() {
  if (finished_) return;
  if (!queue_.empty()) {
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -=
        std::min(queued_bytes_, static_cast<size_t>(in_flight_.ByteSizeLong()));
    writing_ = true;
    StartWrite(&in_flight_);
    return;
  }
  if (finish_pending_) {
    finished_ = true;
    Finish(final_status_);
  }
}

void CallStreamReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) {
    // The client is gone; OnCancel or OnDone follows.
    queue_.clear();
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    }
    return;
  }
  StartNextLocked();
}

void CallStreamReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  queue_.clear();
  if (!finished_ && !writing_) {
    finished_ = true;
    Finish(
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
  } else if (!finished_) {
    final_status_ =
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    finish_pending_ = true;
  }
}

void CallStreamReactor::OnDone() {
  std::shared_ptr<CallStreamReactor> self;
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    self = std::move(self_);
  }
  // `self` may be the last reference: it is released here, after the lock.
}

}  // namespace shadowcat
