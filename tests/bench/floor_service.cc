#include "tests/bench/floor_service.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace shadowcat {
namespace {

constexpr char kResult[] =
    R"({"content":[{"type":"text","text":"hi"}],"isError":false})";

v1::ServerMessage& Payload(v1::CallStreamEvent& event) {
  return *event.mutable_message();
}
v1::ServerMessage& Payload(v1::ServerMessage& message) { return message; }

// Writes `count` copies of one message, one write in flight (as Shadowcat's
// reactors), then `last` if set (CallStream's response), then finishes.
template <typename Message>
class FloodReactor final : public grpc::ServerWriteReactor<Message> {
 public:
  FloodReactor(uint32_t count, size_t bytes, std::optional<Message> last)
      : left_(count), last_(std::move(last)) {
    v1::ServerMessage& message = Payload(event_);
    message.set_method("notifications/message");
    message.set_message_json(std::string(bytes, 'x'));
    Next();
  }

  // grpc::ServerWriteReactor:
  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }  // gRPC's reactor contract

 private:
  void Next() {
    if (left_ > 0) {
      --left_;
      Payload(event_).set_sequence(++sequence_);
      this->StartWrite(&event_);
    } else if (!finished_) {
      finished_ = true;
      if (last_.has_value()) {
        this->StartWriteAndFinish(&*last_, grpc::WriteOptions(),
                                  grpc::Status::OK);
      } else {
        this->Finish(grpc::Status::OK);
      }
    }
  }

  uint32_t left_;
  uint64_t sequence_ = 0;
  bool finished_ = false;
  Message event_;
  std::optional<Message> last_;
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
  v1::CallStreamEvent last;
  last.mutable_response()->set_result_json(kResult);
  // The reactor owns itself until OnDone (gRPC's callback API).
  return new FloodReactor<v1::CallStreamEvent>(
      request->timeout_ms(), request->params_json().size(), std::move(last));
}

grpc::ServerWriteReactor<v1::ServerMessage>* FloorService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  uint32_t count = 0;
  size_t bytes = 0;
  const std::vector<absl::string_view> spec =
      absl::StrSplit(request->session_id(), ':');
  if (spec.size() != 2 || !absl::SimpleAtoi(spec[0], &count) ||
      !absl::SimpleAtoi(spec[1], &bytes)) {
    count = 0;  // a malformed spec floods nothing and finishes at once
  }
  return new FloodReactor<v1::ServerMessage>(count, bytes, std::nullopt);
}

}  // namespace shadowcat
