#ifndef SHADOWCAT_CORE_JSONRPC_JSONRPC_MESSAGE_H_
#define SHADOWCAT_CORE_JSONRPC_JSONRPC_MESSAGE_H_

// Classifies JSON-RPC 2.0 messages and builds new ones without re-encoding
// any JSON value: ids, params, results and error data travel as raw spans so
// that what the upstream sent is what the backend gets, byte for byte.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

enum class JsonRpcKind {
  kRequest,
  kNotification,
  kResultResponse,
  kErrorResponse
};

// The string_views point into the parsed text.
struct JsonRpcMessage {
  JsonRpcKind kind;
  // Requests and notifications.
  std::string method;
  // Raw id token ("7", "\"abc\"", or "null" on some error responses); empty
  // for notifications.
  absl::string_view id_raw;
  // Raw params; empty when absent.
  absl::string_view params_raw;
  // kResultResponse only.
  absl::string_view result_raw;
  // kErrorResponse only. error_data_raw is empty when absent.
  int64_t error_code = 0;
  std::string error_message;
  absl::string_view error_data_raw;
};

// Parses and classifies one JSON-RPC 2.0 message; `text` must outlive the
// returned spans. InvalidArgument when `text` is not a JSON object, jsonrpc is
// not "2.0", the id is not a string or number (null only on error responses),
// a response has no id, method is not a string, both result and error (or
// method and a result/error) are present, none of method/result/error is,
// error lacks an integer code or a string message, params is not an object or
// array, or one of these members appears twice (a peer could otherwise show
// different parsers different messages).
absl::StatusOr<JsonRpcMessage> ParseJsonRpcMessage(absl::string_view text);

// True if `text`, after leading whitespace, starts with '[': a batch, which
// only protocol version 2025-03-26 allows.
bool LooksLikeBatch(absl::string_view text);

// Builders splice raw JSON verbatim: id_raw, params_raw, result_raw and
// data_raw must already be valid JSON (the caller validated them). Strings
// (method, message) are quoted here.

// params_raw may be empty to omit params.
std::string BuildRequest(absl::string_view id_raw, absl::string_view method,
                         absl::string_view params_raw);
// params_raw may be empty to omit params.
std::string BuildNotification(absl::string_view method,
                              absl::string_view params_raw);
std::string BuildResultResponse(absl::string_view id_raw,
                                absl::string_view result_raw);
// An empty id_raw is written as null (the id of a request that could not be
// read); an empty data_raw omits data.
std::string BuildErrorResponse(absl::string_view id_raw, int64_t code,
                               absl::string_view message,
                               absl::string_view data_raw);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_JSONRPC_JSONRPC_MESSAGE_H_
