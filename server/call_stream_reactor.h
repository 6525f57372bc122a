#ifndef SHADOWCAT_SERVER_CALL_STREAM_REACTOR_H_
#define SHADOWCAT_SERVER_CALL_STREAM_REACTOR_H_

// The gRPC side of CallStream: messages the upstream sends on a request's SSE
// stream, then its response, written one at a time (gRPC allows one write in
// flight).
//
// Threading: PushMessage/PushResponse/Close are called on the session's strand;
// gRPC calls OnWriteDone/OnCancel/OnDone on its own threads. A mutex guards the
// small shared state; nothing is called out while it is held except the
// non-blocking StartWrite/Finish. Lifetime: the reactor keeps itself alive
// (self_) until gRPC's OnDone, so the core may hold a shared_ptr and call it
// after the client went away: those calls become no-ops.
//
// Memory: queued messages are bounded by kMaxQueuedBytes. A caller that reads
// slower than the upstream writes past that bound gets RESOURCE_EXHAUSTED
// rather than unbounded growth (pausing the upstream socket instead comes with
// the streaming work).

#include <cstddef>
#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/rpc_exchange.h"
#include "grpcpp/grpcpp.h"
#include "shadowcat/v1/shadowcat.pb.h"

namespace shadowcat {

class CallStreamReactor : public grpc::ServerWriteReactor<v1::CallStreamEvent> {
 public:
  static constexpr size_t kMaxQueuedBytes = 8 << 20;

  static std::shared_ptr<CallStreamReactor> Create(ShadowcatMetrics& metrics);
  ~CallStreamReactor() override;

  void PushMessage(UpstreamMessage message);
  void PushResponse(const RpcResult& result);
  // Ends the stream with `status` once queued messages are written.
  void Close(absl::Status status);

  // grpc::ServerWriteReactor:
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  explicit CallStreamReactor(ShadowcatMetrics& metrics);

 private:
  void Push(v1::CallStreamEvent event);
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ShadowcatMetrics& metrics_;
  absl::Mutex mu_;
  std::shared_ptr<CallStreamReactor> self_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::CallStreamEvent> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // gRPC borrows the message being written until OnWriteDone.
  v1::CallStreamEvent in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

// A write reactor that finishes at once with a fixed status (for RPCs that
// refuse early).
template <typename Message>
class FinishedWriteReactor : public grpc::ServerWriteReactor<Message> {
 public:
  static FinishedWriteReactor* Create(grpc::Status status) {
    auto reactor = std::make_shared<FinishedWriteReactor>();
    reactor->self_ = reactor;
    reactor->Finish(std::move(status));
    return reactor.get();
  }
  void OnDone() override { self_.reset(); }

 private:
  std::shared_ptr<FinishedWriteReactor> self_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_CALL_STREAM_REACTOR_H_
