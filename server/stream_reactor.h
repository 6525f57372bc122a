#ifndef SHADOWCAT_SERVER_STREAM_REACTOR_H_
#define SHADOWCAT_SERVER_STREAM_REACTOR_H_

// The gRPC side of a server stream (CallStream, Subscribe) as a core EventSink,
// after gRPC's own WatchReactor: one write in flight, the rest in a bounded
// WatermarkQueue. When the queue reaches its high watermark, Push() answers
// kPaused and the session stops reading the upstream socket; when a finished
// write brings it down to the low watermark (half), the resume callback runs
// and reading restarts. So memory per stream is bounded by the queue, one
// message in flight and the socket buffers, whatever either side's speed, and
// nothing is dropped because a reader is slow.
//
// Threading: EventSink methods run on the session's strand; gRPC calls
// OnWriteDone/OnCancel/OnDone on its threads. A mutex guards the small shared
// state; nothing is called out while it is held except the non-blocking
// StartWrite/Finish. Lifetime: the reactor holds itself (self_) until OnDone,
// so the core may keep a shared_ptr and call it after the client went away:
// Push() then answers kClosed.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "core/common/watermark_queue.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/event_sink.h"
#include "grpcpp/grpcpp.h"
#include "server/conversions.h"
#include "server/tsan_handoff.h"
#include "shadowcat/v1/shadowcat.pb.h"

namespace shadowcat {

struct StreamReactorHooks {
  // The client cancelled (or went away); gets the call's handle (may be
  // empty). Runs on a gRPC thread, once.
  std::function<void(const std::string& handle)> on_cancel;
  // gRPC is done with the reactor. Runs on a gRPC thread, once.
  std::function<void()> on_done;
};

// Message is v1::CallStreamEvent (CallStream) or v1::ServerMessage
// (Subscribe).
template <typename Message>
class StreamReactor : public grpc::ServerWriteReactor<Message>,
                      public EventSink {
  static constexpr bool kIsCall = std::is_same_v<Message, v1::CallStreamEvent>;

 public:
  // `queue_bytes` is the high watermark (Config::stream_queue_bytes).
  static std::shared_ptr<StreamReactor> Create(ShadowcatMetrics& metrics,
                                               size_t queue_bytes,
                                               StreamReactorHooks hooks = {}) {
    auto reactor =
        std::make_shared<StreamReactor>(metrics, queue_bytes, std::move(hooks));
    {
      absl::MutexLock lock(&reactor->mu_);
      reactor->self_ = reactor;
    }
    TsanPublished(reactor.get());
    return reactor;
  }

  StreamReactor(ShadowcatMetrics& metrics, size_t queue_bytes,
                StreamReactorHooks hooks)
      : metrics_(metrics),
        hooks_(std::move(hooks)),
        queue_(queue_bytes, queue_bytes / 2) {
    metrics_.grpc_streams_active().Increment();
  }
  ~StreamReactor() override { metrics_.grpc_streams_active().Decrement(); }

  // EventSink:
  void SetResumeCallback(absl::AnyInvocable<void()> resume) override {
    absl::MutexLock lock(&mu_);
    resume_ = std::move(resume);
  }

  void Started(const std::string& request_handle) override {
    absl::MutexLock lock(&mu_);
    handle_ = request_handle;
    if constexpr (kIsCall) {
      Message event;
      event.mutable_started()->set_request_id(request_handle);
      EnqueueLocked(std::move(event), request_handle.size());
    }
  }

  PushResult Push(ServerMessage message) override {
    const size_t bytes = message.json.size() + message.method.size() +
                         message.event_id.size() + message.id_raw.size();
    Message out;
    v1::ServerMessage* m;
    if constexpr (kIsCall) {
      m = out.mutable_message();
    } else {
      m = &out;
      m->set_sequence(message.sequence);
    }
    m->set_message_json(std::move(message.json));
    m->set_method(std::move(message.method));
    m->set_event_id(std::move(message.event_id));
    absl::MutexLock lock(&mu_);
    if (finished_ || finish_pending_) return PushResult::kClosed;
    if (EnqueueLocked(std::move(out), bytes)) {
      producer_paused_ = true;
      return PushResult::kPaused;
    }
    return PushResult::kOk;
  }

  void Finish(absl::StatusOr<RpcResult> outcome) override {
    absl::MutexLock lock(&mu_);
    if (finished_ || finish_pending_) return;
    if constexpr (kIsCall) {
      if (outcome.ok()) {
        Message event;
        ToProto(*outcome, event.mutable_response());
        EnqueueLocked(std::move(event), outcome->result_raw.size());
      }
    }
    final_status_ = ToGrpcStatus(outcome.status());
    finish_pending_ = true;
    if (!writing_) StartNextLocked();
  }

  // grpc::ServerWriteReactor:
  void OnWriteDone(bool ok) override {
    TsanAdopted(this);
    absl::AnyInvocable<void()>* resume = nullptr;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        // The client is gone; OnCancel or OnDone follows.
        queue_.Clear();
        FinishNowLocked(
            grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      } else {
        StartNextLocked();
      }
      // Resumed also when finished: the producer then sees kClosed at once
      // instead of waiting for a stall timeout.
      if (producer_paused_ && (queue_.at_or_below_low() || finished_)) {
        producer_paused_ = false;
        resume = &resume_;
      }
    }
    // Set once before the first push, never reassigned: safe outside mu_.
    if (resume != nullptr && *resume) (*resume)();
    TsanPublished(this);  // OnDone follows this reaction's return
  }

  void OnCancel() override {
    TsanAdopted(this);
    std::string handle;
    absl::AnyInvocable<void()>* resume = nullptr;
    {
      absl::MutexLock lock(&mu_);
      queue_.Clear();
      if (!writing_) {
        FinishNowLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                                     "cancelled by the client"));
      } else if (!finished_) {
        final_status_ = grpc::Status(grpc::StatusCode::CANCELLED,
                                     "cancelled by the client");
        finish_pending_ = true;
      }
      handle = handle_;
      if (producer_paused_) {
        producer_paused_ = false;
        resume = &resume_;
      }
    }
    if (hooks_.on_cancel) hooks_.on_cancel(handle);
    if (resume != nullptr && *resume) (*resume)();
    // gRPC runs OnDone only after this returns; OnDone's Adopted() sees it.
    TsanPublished(this);
  }

  void OnDone() override {
    TsanAdopted(this);
    std::shared_ptr<StreamReactor> self;
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
      self = std::move(self_);
    }
    if (hooks_.on_done) hooks_.on_done();
    // `self` may be the last reference: released here, after the lock.
  }

 private:
  // Starts the write at once when none is in flight, else queues. Returns
  // whether the queue is at its high watermark.
  bool EnqueueLocked(Message message, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!writing_ && queue_.empty()) {
      in_flight_ = std::move(message);
      writing_ = true;
      this->StartWrite(&in_flight_);
      return false;
    }
    return queue_.Push(std::move(message), bytes);
  }

  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (std::optional<Message> next = queue_.Pop()) {
      in_flight_ = *std::move(next);
      writing_ = true;
      // More is queued and goes out from the next OnWriteDone, without a
      // flush: gRPC may coalesce the messages into fewer transport writes.
      // The last queued message is written without the hint, so nothing is
      // held back waiting for the producer.
      grpc::WriteOptions options;
      if (!queue_.empty()) options.set_buffer_hint();
      this->StartWrite(&in_flight_, options);
      return;
    }
    if (finish_pending_) FinishNowLocked(final_status_);
  }

  void FinishNowLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    grpc::ServerWriteReactor<Message>::Finish(std::move(status));
  }

  ShadowcatMetrics& metrics_;
  const StreamReactorHooks hooks_;
  absl::Mutex mu_;
  std::shared_ptr<StreamReactor> self_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void()> resume_ ABSL_GUARDED_BY(mu_);
  std::string handle_ ABSL_GUARDED_BY(mu_);
  WatermarkQueue<Message> queue_ ABSL_GUARDED_BY(mu_);
  // gRPC borrows the message being written until OnWriteDone.
  Message in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool producer_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

using CallStreamReactor = StreamReactor<v1::CallStreamEvent>;
using SubscribeReactor = StreamReactor<v1::ServerMessage>;

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_STREAM_REACTOR_H_
