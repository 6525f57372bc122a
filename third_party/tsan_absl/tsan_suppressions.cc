// ThreadSanitizer suppressions for uninstrumented Debian libraries, compiled
// in so that no file or TSAN_OPTIONS path is needed (a `suppressions=` file in
// TSAN_OPTIONS still adds to them).
//
// Mostly `called_from_lib` entries: TSan ignores the memory accesses that its
// interceptors (memcpy, memcmp, free, operator delete, sendmsg, ...) make when
// called directly from code in that library. Our code is instrumented and is
// still checked, also when gRPC calls into it. A plain `race:` pattern matches
// any frame of a report, including our own frames and the creation stacks of
// gRPC's threads, which run our reactors; the few at the end name only gRPC
// functions that never run code of ours (see there).
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
// - libssl, libcrypto: OpenSSL, uninstrumented, hands its TLS objects (the
//   gRPC listener's handshakes, upstream TLS streams) between the threads that
//   call it under locks of its own that TSan cannot see; seen as races on the
//   memcpy and free it makes on gRPC's TLS handshaker threads.
// - libabsl_graphcycles_internal: the deadlock graph of absl::Mutex (enabled
//   in Debian's build), guarded by a SpinLock that TSan cannot see.
//
// And a few entries for gRPC's per-call objects (the handler's CallOpSets,
// send ops, byte buffers, interceptor batches, whose constructor runs on the
// thread that starts an operation and whose interceptors, ours included, run
// on the thread that completes it), which libgrpc++ allocates when
// a call starts and then hands from thread to thread through its completion
// queue and call refcounts, none of which TSan sees (a tag set on one thread
// runs on another); the header half of that
// code is compiled into our objects and instrumented, so TSan reports its
// accesses on the thread that completes a tag as racing with the allocation or
// the previous operation. The `race:` names are gRPC functions inside which no
// code of ours ever runs (our reactors are called from CallbackWithSuccessTag::
// Run, not from these), so a race in our code is still reported. The
// `race_top:` entries match only when gRPC's own frame is the racing access:
// gRPC's handler-dispatch lambdas (RunHandler: gRPC's own call objects; our
// handler's accesses below it are still checked), the callbacks SetupReactor
// installs (they read the reactor that our handler
// allocated on another thread before calling OnCancel/OnDone, whose own
// accesses are still checked), and a reactor base class's destructor (the last
// reference may drop on the thread where libgrpc's executor ran OnDone, after
// gRPC's finish callback made its virtual call on another). ASan runs the same calls and would report a real use after free of
// any of these objects.

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
         "called_from_lib:/libssl.so.3\n"
         "called_from_lib:/libcrypto.so.3\n"
         "race:grpc::internal::CallOpSet<\n"
         "race:grpc::internal::CallOpSendInitialMetadata::\n"
         "race:grpc::internal::CallOpSendMessage::\n"
         "race:grpc::internal::CallbackWithSuccessTag::Clear\n"
         "race:grpc::internal::CallbackWithSuccessTag::Set\n"
         "race:grpc::internal::InterceptorBatchMethodsImpl::~\n"
         "race:grpc::internal::InterceptorBatchMethodsImpl::InterceptorBatchMethodsImpl\n"
         "race:grpc::ByteBuffer::Clear\n"
         "race:::CallOnDone()\n"
         "race_top:::SetupReactor(\n"
         "race_top:::RunHandler(\n"
         "race_top:grpc::ServerUnaryReactor::~ServerUnaryReactor\n"
         "race_top:::~ServerWriteReactor\n";
}

#endif  // defined(__SANITIZE_THREAD__)
