#include "tests/bench/floor_service.h"

#include <cstdint>
#include <string>

namespace shadowcat {
namespace {

constexpr char kResult[] =
    R"({"content":[{"type":"text","text":"hi"}],"isError":false})";

// Writes `count` copies of one message, then a response, then finishes.
class FloodReactor final
    : public grpc::ServerWriteReactor<v1::CallStreamEvent> {
 public:
  FloodReactor(uint32_t count, size_t bytes) : left_(count) {
    v1::ServerMessage* message = event_.mutable_message();
    message->set_method("notifications/message");
    message->set_message_json(std::string(bytes, 'x'));
    last_.mutable_response()->set_result_json(kResult);
    Next();
  }

  // grpc::ServerWriteReactor:
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }  // gRPC's reactor contract

 private:
  void Next() {
    if (left_ > 0) {
      --left_;
      event_.mutable_message()->set_sequence(++sequence_);
      StartWrite(&event_);
    } else if (!finished_) {
      finished_ = true;
      StartWriteAndFinish(&last_, grpc::WriteOptions(), grpc::Status::OK);
    }
  }

  uint32_t left_;
  uint64_t sequence_ = 0;
  bool finished_ = false;
  v1::CallStreamEvent event_;
  v1::CallStreamEvent last_;
};

}  // namespace

grpc::ServerUnaryReactor* FloorService::Call(
    grpc::CallbackServerContext* context, const v1::CallRequest* request,
    v1::CallResponse* response) {
  response->set_result_json(kResult);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::CallStreamEvent>* FloorService::CallStream(
    grpc::CallbackServerContext* context, const v1::CallRequest* request) {
  // The reactor owns itself until OnDone (gRPC's callback API).
  return new FloodReactor(request->timeout_ms(), request->params_json().size());
}

}  // namespace shadowcat
