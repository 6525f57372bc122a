#include "tests/interop/stream_helpers.h"

#include "absl/strings/str_cat.h"

namespace shadowcat {

std::vector<v1::ServerMessage> StreamOutcome::Messages() const {
  std::vector<v1::ServerMessage> messages;
  for (const v1::CallStreamEvent& event : events) {
    if (event.has_message()) messages.push_back(event.message());
  }
  return messages;
}

std::optional<v1::CallResponse> StreamOutcome::Response() const {
  for (const v1::CallStreamEvent& event : events) {
    if (event.has_response()) return event.response();
  }
  return std::nullopt;
}

StreamOutcome RunCallStream(
    v1::Shadowcat::Stub& stub, const v1::CallRequest& request,
    const std::function<void(const v1::ServerMessage&)>& on_message,
    absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  std::unique_ptr<grpc::ClientReader<v1::CallStreamEvent>> reader =
      stub.CallStream(&context, request);
  StreamOutcome outcome;
  v1::CallStreamEvent event;
  while (reader->Read(&event)) {
    if (event.has_message() && on_message) on_message(event.message());
    outcome.events.push_back(event);
  }
  outcome.status = reader->Finish();
  return outcome;
}

v1::CallRequest ToolCall(const std::string& session, const std::string& tool,
                         const std::string& arguments_json,
                         const std::string& progress_token) {
  boost::json::object params;
  params["name"] = tool;
  params["arguments"] = ParseJson(arguments_json);
  if (!progress_token.empty()) {
    params["_meta"] = boost::json::object{{"progressToken", progress_token}};
  }
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method("tools/call");
  request.set_params_json(boost::json::serialize(params));
  return request;
}

boost::json::value ParseJson(const std::string& text) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(text, error);
  if (error) return nullptr;
  return value;
}

std::vector<double> ProgressValues(
    const std::vector<v1::ServerMessage>& messages) {
  std::vector<double> values;
  for (const v1::ServerMessage& message : messages) {
    if (message.method() != "notifications/progress") continue;
    boost::json::value json = ParseJson(message.message_json());
    const boost::json::value* progress =
        json.is_object() ? json.as_object().if_contains("params") : nullptr;
    if (progress != nullptr && progress->is_object())
      progress = progress->as_object().if_contains("progress");
    if (progress != nullptr && progress->is_number())
      values.push_back(progress->to_number<double>());
    else
      values.push_back(
          -1);  // a progress notification without a number: visible in asserts
  }
  return values;
}

std::string FirstText(const std::string& result_json) {
  boost::json::value json = ParseJson(result_json);
  if (!json.is_object()) return "";
  const boost::json::value* content = json.as_object().if_contains("content");
  if (content == nullptr || !content->is_array()) return "";
  for (const boost::json::value& item : content->as_array()) {
    if (!item.is_object()) continue;
    const boost::json::value* text = item.as_object().if_contains("text");
    if (text != nullptr && text->is_string())
      return std::string(text->as_string());
  }
  return "";
}

}  // namespace shadowcat
