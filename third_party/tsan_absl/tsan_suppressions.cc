// ThreadSanitizer suppressions for uninstrumented Debian libraries, compiled
// in so that no file or TSAN_OPTIONS path is needed (a `suppressions=` file in
// TSAN_OPTIONS still adds to them).
//
// Only `called_from_lib` entries: TSan ignores the memory accesses that its
// interceptors (memcpy, memcmp, free, operator delete, sendmsg, ...) make when
// called directly from code in that library. Our code is instrumented and is
// still checked, also when gRPC calls into it. There is no `race:` pattern: it
// would match any frame of a report, including our own frames and the creation
// stacks of gRPC's threads, which run our reactors.
//
// - libgrpc, libgrpc++, libgpr, libupb: gRPC hands calls, slices and
//   absl::Status objects from one of its threads to another through lock-free
//   queues and atomics that TSan cannot see (its mutexes are absl::Mutex,
//   which tsan_absl.cc annotates). Seen as races on free, sendmsg and memcpy
//   from grpc_core::Arena, grpc_slice_buffer and upb.
// - libabsl_status, libabsl_strings, libabsl_time: on its own threads, gRPC
//   copies, formats and frees the absl::Status that grpc::Server::Shutdown()
//   built on the caller's thread. Our own calls into these libraries lose only
//   the checks on the copies that the libraries make themselves: two threads
//   calling absl::StrAppend on one std::string are still reported, through the
//   std::string code.
// - libabsl_graphcycles_internal: the deadlock graph of absl::Mutex (enabled
//   in Debian's build), guarded by a SpinLock that TSan cannot see.
//
// And two `race_top:` entries, which match only the frame of the racing
// access itself (not callers, not thread creation stacks): gRPC's callback-tag
// code from its headers (callback_common.h, call_op_set.h), compiled into our
// objects and so instrumented, runs on whichever gRPC thread completes a tag,
// on objects that the uninstrumented libgrpc allocated, handed over and frees
// through its completion queue and call refcounts. TSan sees the header half
// and not the library half, and reports the tag's CallOpSet being read and
// its std::function<void(bool)> being cleared on another thread than the one
// that created or last ran it. Our code never assigns to a
// std::function<void(bool)> after building it and has no CallOpSet, so these
// patterns match gRPC's frames only; ASan runs the same calls and would report
// a real use after free of these objects.

#if defined(__SANITIZE_THREAD__)

extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:/libgrpc.so\n"
         "called_from_lib:/libgrpc++.so\n"
         "called_from_lib:/libgpr.so\n"
         "called_from_lib:/libupb.so\n"
         "called_from_lib:/libabsl_status.so\n"
         "called_from_lib:/libabsl_strings.so\n"
         "called_from_lib:/libabsl_time.so\n"
         "called_from_lib:/libabsl_graphcycles_internal.so\n"
         "race_top:grpc::internal::CallOpSet<\n"
         "race_top:std::function<void (bool)>::operator=(decltype(nullptr))\n";
}

#endif  // defined(__SANITIZE_THREAD__)
