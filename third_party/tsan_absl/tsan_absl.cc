// ThreadSanitizer annotations for Debian's Abseil (libabsl 20220623). It is
// not built with -fsanitize=thread, so TSan cannot see the happens-before
// edges of absl::Mutex, absl::CondVar, absl::Notification and
// absl::BlockingCounter, and reports false races wherever they are used.
//
// Upstream Abseil, compiled with TSan, calls the __tsan_mutex_* annotations
// itself (ABSL_TSAN_MUTEX_* in mutex.cc). This file adds the same annotations
// from outside. It defines the exported entry points of
// libabsl_synchronization.so under their own mangled names; being linked into
// the executable, which comes first in the dynamic linker's search order, they
// are what every caller binds to (our code, gRPC, and Abseil's own calls, which
// all go through the PLT). Each calls the real function, found with
// dlsym(RTLD_NEXT), between the annotations that upstream puts around it:
//
// - Mutex lock, unlock and try-lock, writer and reader: pre/post lock and
//   unlock.
// - LockWhen, Await and CondVar::Wait release and re-acquire the mutex inside.
// - Condition::Eval: Abseil evaluates wait conditions inside those operations.
//   The caller's own condition, evaluated after Abseil got the mutex for it,
//   becomes a short critical section (upstream's EvalConditionAnnotated), so
//   races in predicates are still checked. Other waiters' conditions,
//   evaluated on their behalf while unlocking, run with memory accesses
//   ignored (upstream's EvalConditionIgnored): those waiters published their
//   conditions through Abseil's internal spinlock, which TSan cannot see.
// - Notification: Notify releases, and a successful wait acquires, on the
//   notification's flag, which is also what the inline HasBeenNotified()
//   loads with acquire order (an atomic load that TSan does see).
// - BlockingCounter: each DecrementCount releases and Wait acquires (only the
//   last decrement takes the mutex; the others are an atomic decrement that
//   TSan cannot see). Barrier needs nothing more: it only uses its mutex.
//
// Only the synchronization primitives are annotated: any access to shared data
// that they do not order is still reported. Linked into every binary that
// depends on @system//:absl or @system//:grpc++ under --config=tsan
// (third_party/system_libs); in any other build this file compiles to nothing.

#if defined(__SANITIZE_THREAD__)

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/base/config.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

// The mangled names below are those of Debian's build. Another Abseil needs a
// review of this file: its entry points, their call graph, and the names.
#define SHADOWCAT_TSAN_STR2(x) #x
#define SHADOWCAT_TSAN_STR(x) SHADOWCAT_TSAN_STR2(x)
static_assert(ABSL_LTS_RELEASE_VERSION == 20220623,
              "tsan_absl.cc is written for Abseil 20220623");
static_assert(
    std::string_view(SHADOWCAT_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME)) ==
        "debian3",
    "tsan_absl.cc uses the mangled names of Debian's inline namespace");

// TSan's dynamic annotations (ABSL_ANNOTATE_IGNORE_READS_AND_WRITES_*).
extern "C" {
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
}

namespace {

using absl::BlockingCounter;
using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;
using absl::synchronization_internal::KernelTimeout;

// Mutex::mu_ bit set while a writer holds the mutex (kMuWriter in mutex.cc).
constexpr intptr_t kMuWriter = 0x0008;

// The annotation flags for a mutex held in the mode that `word` (its mu_)
// shows.
unsigned HeldMode(intptr_t word) {
  return (word & kMuWriter) != 0 ? 0 : __tsan_mutex_read_lock;
}

template <typename Fn>
Fn Next(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr) {
    std::fprintf(stderr, "tsan_absl: %s not found in Abseil: %s\n", name,
                 dlerror());
    std::abort();
  }
  Fn fn;
  static_assert(sizeof(fn) == sizeof(p));
  std::memcpy(&fn, &p, sizeof(p));
  return fn;
}

// The real Abseil functions, resolved together by the first annotated call of
// the process, before it enters an annotated region.
// clang-format off
struct Real {
  using M = Mutex*;
  using C = const Condition&;
  using KT = KernelTimeout;
  void (*lock)(M) = Next<decltype(lock)>(
      "_ZN4absl7debian35Mutex4LockEv");
  void (*reader_lock)(M) = Next<decltype(reader_lock)>(
      "_ZN4absl7debian35Mutex10ReaderLockEv");
  bool (*try_lock)(M) = Next<decltype(try_lock)>(
      "_ZN4absl7debian35Mutex7TryLockEv");
  bool (*reader_try_lock)(M) = Next<decltype(reader_try_lock)>(
      "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  void (*unlock)(M) = Next<decltype(unlock)>(
      "_ZN4absl7debian35Mutex6UnlockEv");
  void (*reader_unlock)(M) = Next<decltype(reader_unlock)>(
      "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  void (*lock_when)(M, C) = Next<decltype(lock_when)>(
      "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  void (*reader_lock_when)(M, C) = Next<decltype(reader_lock_when)>(
      "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  bool (*lock_when_with_deadline)(M, C, Time) =
      Next<decltype(lock_when_with_deadline)>(
      "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool (*reader_lock_when_with_deadline)(M, C, Time) =
      Next<decltype(reader_lock_when_with_deadline)>(
      "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  void (*await)(M, C) = Next<decltype(await)>(
      "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  bool (*await_with_deadline)(M, C, Time) = Next<decltype(await_with_deadline)>(
      "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool (*await_common)(M, C, KT) = Next<decltype(await_common)>(
      "_ZN4absl7debian35Mutex11AwaitCommonERKNS0_9ConditionENS0_24synchronization_internal13KernelTimeoutE");
  void (*destroy)(M) = Next<decltype(destroy)>(
      "_ZN4absl7debian35MutexD1Ev");
  bool (*cv_wait_common)(CondVar*, M, KT) = Next<decltype(cv_wait_common)>(
      "_ZN4absl7debian37CondVar10WaitCommonEPNS0_5MutexENS0_24synchronization_internal13KernelTimeoutE");
  bool (*eval)(const Condition*) = Next<decltype(eval)>(
      "_ZNK4absl7debian39Condition4EvalEv");
  void (*notify)(Notification*) = Next<decltype(notify)>(
      "_ZN4absl7debian312Notification6NotifyEv");
  void (*wait_for_notification)(const Notification*) =
      Next<decltype(wait_for_notification)>(
      "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  bool (*wait_for_notification_with_timeout)(const Notification*, Duration) =
      Next<decltype(wait_for_notification_with_timeout)>(
      "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  bool (*wait_for_notification_with_deadline)(const Notification*, Time) =
      Next<decltype(wait_for_notification_with_deadline)>(
      "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  bool (*decrement_count)(BlockingCounter*) = Next<decltype(decrement_count)>(
      "_ZN4absl7debian315BlockingCounter14DecrementCountEv");
  void (*blocking_counter_wait)(BlockingCounter*) =
      Next<decltype(blocking_counter_wait)>(
      "_ZN4absl7debian315BlockingCounter4WaitEv");
};
// clang-format on

const Real& R() {
  static const Real real;
  return real;
}

// The annotated Abseil operation that this thread is in, for Condition::Eval.
struct Op {
  Mutex* mu;
  const Condition* own;  // the caller's own wait condition, if any
  unsigned flags;        // __tsan_mutex_read_lock in reader mode, else 0
  bool annotating;       // between __tsan_mutex_pre_* and _post_* on mu
  Op* outer;
};

thread_local Op* current_op = nullptr;

class ScopedOp {
 public:
  ScopedOp(Mutex* mu, const Condition* own, unsigned flags, bool annotating)
      : op_{mu, own, flags, annotating, current_op} {
    current_op = &op_;
  }
  ~ScopedOp() { current_op = op_.outer; }
  ScopedOp(const ScopedOp&) = delete;
  ScopedOp& operator=(const ScopedOp&) = delete;

 private:
  Op op_;
};

void* Flag(const std::atomic<bool>* notified_yet) {
  return const_cast<std::atomic<bool>*>(notified_yet);
}

// Fails at start-up if callers do not bind to the definitions below (say this
// library was linked as a shared object after libabsl_synchronization.so):
// TSan would then report Abseil's synchronization as races again.
__attribute__((constructor)) void CheckInterposed() {
  const char* name = "_ZN4absl7debian35Mutex4LockEv";
  void* next = dlsym(RTLD_NEXT, name);
  if (next != nullptr && dlsym(RTLD_DEFAULT, name) == next) {
    std::fprintf(stderr,
                 "tsan_absl: absl::Mutex::Lock resolves to Abseil itself, "
                 "not to the annotations in third_party/tsan_absl\n");
    std::abort();
  }
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

// ---- Mutex ------------------------------------------------------------------

Mutex::~Mutex() {
  R().destroy(this);
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
}

void Mutex::Lock() {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, 0);
  {
    ScopedOp op(this, nullptr, 0, true);
    r.lock(this);
  }
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLock() {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  {
    ScopedOp op(this, nullptr, __tsan_mutex_read_lock, true);
    r.reader_lock(this);
  }
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::TryLock() {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  bool locked;
  {
    ScopedOp op(this, nullptr, 0, true);
    locked = r.try_lock(this);
  }
  const unsigned failed = locked ? 0 : __tsan_mutex_try_lock_failed;
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | failed, 0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_read_lock);
  bool locked;
  {
    ScopedOp op(this, nullptr, __tsan_mutex_read_lock, true);
    locked = r.reader_try_lock(this);
  }
  const unsigned failed = locked ? 0 : __tsan_mutex_try_lock_failed;
  __tsan_mutex_post_lock(this, __tsan_mutex_try_read_lock | failed, 0);
  return locked;
}

void Mutex::Unlock() {
  const Real& r = R();
  __tsan_mutex_pre_unlock(this, 0);
  {
    ScopedOp op(this, nullptr, 0, true);
    r.unlock(this);
  }
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  const Real& r = R();
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  {
    ScopedOp op(this, nullptr, __tsan_mutex_read_lock, true);
    r.reader_unlock(this);
  }
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

// LockWhenWithTimeout and ReaderLockWhenWithTimeout tail-call the WithDeadline
// variants through the PLT, so they arrive here without a wrapper of their own.

void Mutex::LockWhen(const Condition& cond) {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, 0);
  {
    ScopedOp op(this, &cond, 0, true);
    r.lock_when(this, cond);
  }
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  {
    ScopedOp op(this, &cond, __tsan_mutex_read_lock, true);
    r.reader_lock_when(this, cond);
  }
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, 0);
  bool res;
  {
    ScopedOp op(this, &cond, 0, true);
    res = r.lock_when_with_deadline(this, cond, deadline);
  }
  __tsan_mutex_post_lock(this, 0, 0);
  return res;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond,
                                       absl::Time deadline) {
  const Real& r = R();
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  bool res;
  {
    ScopedOp op(this, &cond, __tsan_mutex_read_lock, true);
    res = r.reader_lock_when_with_deadline(this, cond, deadline);
  }
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
  return res;
}

// Await and AwaitWithDeadline first evaluate the condition with the mutex held
// by the caller (plain code: nothing to annotate), then call AwaitCommon
// through the PLT to wait. AwaitWithTimeout tail-calls AwaitWithDeadline.

void Mutex::Await(const Condition& cond) {
  const Real& r = R();
  ScopedOp op(this, &cond, 0, false);
  r.await(this, cond);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  const Real& r = R();
  ScopedOp op(this, &cond, 0, false);
  return r.await_with_deadline(this, cond, deadline);
}

// Releases the mutex, waits for the condition and takes the mutex again, in
// the mode in which the caller held it.
bool Mutex::AwaitCommon(const Condition& cond,
                        synchronization_internal::KernelTimeout t) {
  const Real& r = R();
  const unsigned flags = HeldMode(mu_.load(std::memory_order_relaxed));
  __tsan_mutex_pre_unlock(this, flags);
  __tsan_mutex_post_unlock(this, flags);
  __tsan_mutex_pre_lock(this, flags);
  bool res;
  {
    ScopedOp op(this, &cond, flags, true);
    res = r.await_common(this, cond, t);
  }
  __tsan_mutex_post_lock(this, flags, 0);
  return res;
}

// ---- CondVar ----------------------------------------------------------------

// Wait, WaitWithTimeout and WaitWithDeadline tail-call WaitCommon through the
// PLT.
bool CondVar::WaitCommon(Mutex* mutex,
                         synchronization_internal::KernelTimeout t) {
  const Real& r = R();
  const unsigned flags = HeldMode(mutex->mu_.load(std::memory_order_relaxed));
  __tsan_mutex_pre_unlock(mutex, flags);
  __tsan_mutex_post_unlock(mutex, flags);
  __tsan_mutex_pre_lock(mutex, flags);
  bool timed_out;
  {
    ScopedOp op(mutex, nullptr, flags, true);
    timed_out = r.cv_wait_common(this, mutex, t);
  }
  __tsan_mutex_post_lock(mutex, flags, 0);
  return timed_out;
}

// ---- Condition --------------------------------------------------------------

bool Condition::Eval() const {
  const Real& r = R();
  const Op* op = current_op;
  if (op == nullptr || !op->annotating) return r.eval(this);
  if (this == op->own) {
    // The caller's own condition, after Abseil took the mutex for it, in the
    // middle of TSan's lock operation: make it a whole critical section.
    __tsan_mutex_post_lock(op->mu, op->flags, 0);
    const bool res = r.eval(this);
    __tsan_mutex_pre_unlock(op->mu, op->flags);
    __tsan_mutex_post_unlock(op->mu, op->flags);
    __tsan_mutex_pre_lock(op->mu, op->flags);
    return res;
  }
  // Another waiter's condition, evaluated on its behalf while unlocking.
  __tsan_mutex_pre_divert(op->mu, 0);
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  const bool res = r.eval(this);
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  __tsan_mutex_post_divert(op->mu, 0);
  return res;
}

// ---- Notification -----------------------------------------------------------

void Notification::Notify() {
  const Real& r = R();
  __tsan_release(Flag(&notified_yet_));
  r.notify(this);
}

void Notification::WaitForNotification() const {
  const Real& r = R();
  r.wait_for_notification(this);
  __tsan_acquire(Flag(&notified_yet_));
}

bool Notification::WaitForNotificationWithTimeout(
    absl::Duration timeout) const {
  const Real& r = R();
  const bool notified = r.wait_for_notification_with_timeout(this, timeout);
  if (notified) __tsan_acquire(Flag(&notified_yet_));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  const Real& r = R();
  const bool notified = r.wait_for_notification_with_deadline(this, deadline);
  if (notified) __tsan_acquire(Flag(&notified_yet_));
  return notified;
}

// ---- BlockingCounter --------------------------------------------------------

bool BlockingCounter::DecrementCount() {
  const Real& r = R();
  __tsan_release(this);
  return r.decrement_count(this);
}

void BlockingCounter::Wait() {
  const Real& r = R();
  r.blocking_counter_wait(this);
  __tsan_acquire(this);
}

ABSL_NAMESPACE_END
}  // namespace absl

#endif  // defined(__SANITIZE_THREAD__)
