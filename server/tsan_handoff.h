#ifndef SHADOWCAT_SERVER_TSAN_HANDOFF_H_
#define SHADOWCAT_SERVER_TSAN_HANDOFF_H_

// A reactor is built on the thread that runs our RPC handler, returned to
// gRPC, and then driven from gRPC's other threads (OnWriteDone, OnCancel,
// OnDone). gRPC orders those hand-offs inside libgrpc, which Debian does not
// build with ThreadSanitizer, so TSan cannot see the edge and reports the
// reactor's first touches on the new thread (its mutex included) as races.
// These two calls state those existing edges: Published() when the handler
// hands the reactor over and at the end of a reaction that OnDone follows
// (OnCancel, OnWriteDone), Adopted() at the entry of every reaction. They
// compile to nothing outside TSan builds, and they add no ordering that gRPC
// does not already provide.

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace shadowcat {

inline void TsanPublished(void* reactor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(reactor);
#else
  (void)reactor;
#endif
}

inline void TsanAdopted(void* reactor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(reactor);
#else
  (void)reactor;
#endif
}

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_TSAN_HANDOFF_H_
