#ifndef SHADOWCAT_TESTS_INTEROP_STREAM_HELPERS_H_
#define SHADOWCAT_TESTS_INTEROP_STREAM_HELPERS_H_

// Small helpers for interop tests that read CallStreams and answer server
// requests.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "boost/json.hpp"
#include "grpcpp/grpcpp.h"
#include "shadowcat/v1/shadowcat.grpc.pb.h"

namespace shadowcat {

struct StreamOutcome {
  std::vector<v1::CallStreamEvent> events;
  grpc::Status status;

  // The message events, in order.
  std::vector<v1::ServerMessage> Messages() const;
  // The response event, if the stream had one.
  std::optional<v1::CallResponse> Response() const;
};

// Runs a CallStream to its end. `on_message` (may be empty) sees each message
// event as it arrives, before the next is read: a test answers server requests
// from it with Respond.
StreamOutcome RunCallStream(
    v1::Shadowcat::Stub& stub, const v1::CallRequest& request,
    const std::function<void(const v1::ServerMessage&)>& on_message,
    absl::Duration timeout = absl::Seconds(15));

// A CallRequest for tools/call of `tool` with `arguments_json`, and a progress
// token if not empty.
v1::CallRequest ToolCall(const std::string& session, const std::string& tool,
                         const std::string& arguments_json,
                         const std::string& progress_token = "");

// Parses JSON; a null value when it does not parse.
boost::json::value ParseJson(const std::string& text);

// The `progress` values of the notifications/progress among `messages`, in
// order.
std::vector<double> ProgressValues(
    const std::vector<v1::ServerMessage>& messages);

// The text of the first text content item of a tools/call result, or "".
std::string FirstText(const std::string& result_json);

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_INTEROP_STREAM_HELPERS_H_
