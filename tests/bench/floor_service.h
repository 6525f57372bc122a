#ifndef SHADOWCAT_TESTS_BENCH_FLOOR_SERVICE_H_
#define SHADOWCAT_TESTS_BENCH_FLOOR_SERVICE_H_

// The gRPC floor of the benchmarks: the Shadowcat service answered by a
// minimal C++ callback server that does no work, so what a call costs through
// Shadowcat can be set beside what gRPC alone costs on this machine in the
// same run.
//   Call: answers at once with a fixed result.
//   CallStream: writes `timeout_ms` messages of `params_json.size()` bytes of
//     JSON each, one write in flight (as Shadowcat's reactor), then a response.
//   Subscribe: session_id "COUNT:BYTES" writes COUNT messages of BYTES bytes
//     each the same way, then finishes OK.
// Every other method is UNIMPLEMENTED.
//
// Threading: gRPC's callback threads; no state is shared between calls.

#include "proto/shadowcat/v1/shadowcat.grpc.pb.h"

namespace shadowcat {

class FloorService final : public v1::Shadowcat::CallbackService {
 public:
  // v1::Shadowcat::CallbackService:
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context,
                                 const v1::CallRequest* request,
                                 v1::CallResponse* response) override;
  grpc::ServerWriteReactor<v1::CallStreamEvent>* CallStream(
      grpc::CallbackServerContext* context,
      const v1::CallRequest* request) override;
  grpc::ServerWriteReactor<v1::ServerMessage>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeRequest* request) override;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_BENCH_FLOOR_SERVICE_H_
