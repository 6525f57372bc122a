#include "core/jsonrpc/jsonrpc_message.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/jsonrpc/json_scan.h"

namespace shadowcat {
namespace {

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid JSON-RPC message: ", why));
}

// Looks up a member that must appear at most once. Duplicates are refused
// because parsers disagree on which copy wins; a message that means one thing
// to us and another to the backend would bypass whatever we checked.
absl::StatusOr<const JsonMember*> FindUnique(
    const std::vector<JsonMember>& members, absl::string_view key) {
  const JsonMember* found = nullptr;
  for (const JsonMember& member : members) {
    if (member.key != key) continue;
    if (found != nullptr) return Bad(absl::StrCat("duplicate \"", key, "\""));
    found = &member;
  }
  return found;
}

absl::Status ParseError(const JsonMember& error, JsonRpcMessage* message) {
  if (error.type != JsonType::kObject) return Bad("error must be an object");
  SC_ASSIGN_OR_RETURN(std::vector<JsonMember> members,
                      ScanObject(error.raw_value));
  SC_ASSIGN_OR_RETURN(const JsonMember* code, FindUnique(members, "code"));
  SC_ASSIGN_OR_RETURN(const JsonMember* text, FindUnique(members, "message"));
  SC_ASSIGN_OR_RETURN(const JsonMember* data, FindUnique(members, "data"));
  // SimpleAtoi refuses fractions, exponents and values outside int64, which is
  // what "integer" has to mean for a code we store in an int64_t.
  if (code == nullptr || code->type != JsonType::kNumber ||
      !absl::SimpleAtoi(code->raw_value, &message->error_code)) {
    return Bad("error.code must be an integer");
  }
  if (text == nullptr || text->type != JsonType::kString) {
    return Bad("error.message must be a string");
  }
  SC_ASSIGN_OR_RETURN(message->error_message,
                      UnescapeJsonString(text->raw_value));
  if (data != nullptr) message->error_data_raw = data->raw_value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JsonRpcMessage> ParseJsonRpcMessage(absl::string_view text) {
  SC_ASSIGN_OR_RETURN(std::vector<JsonMember> members, ScanObject(text));
  SC_ASSIGN_OR_RETURN(const JsonMember* jsonrpc,
                      FindUnique(members, "jsonrpc"));
  SC_ASSIGN_OR_RETURN(const JsonMember* id, FindUnique(members, "id"));
  SC_ASSIGN_OR_RETURN(const JsonMember* method, FindUnique(members, "method"));
  SC_ASSIGN_OR_RETURN(const JsonMember* params, FindUnique(members, "params"));
  SC_ASSIGN_OR_RETURN(const JsonMember* result, FindUnique(members, "result"));
  SC_ASSIGN_OR_RETURN(const JsonMember* error, FindUnique(members, "error"));

  if (jsonrpc == nullptr || jsonrpc->type != JsonType::kString) {
    return Bad("jsonrpc must be \"2.0\"");
  }
  SC_ASSIGN_OR_RETURN(std::string version,
                      UnescapeJsonString(jsonrpc->raw_value));
  if (version != "2.0") return Bad("jsonrpc must be \"2.0\"");

  if (id != nullptr && id->type != JsonType::kString &&
      id->type != JsonType::kNumber && id->type != JsonType::kNull) {
    return Bad("id must be a string or a number");
  }
  const bool id_is_null = id != nullptr && id->type == JsonType::kNull;
  if (params != nullptr && params->type != JsonType::kObject &&
      params->type != JsonType::kArray) {
    return Bad("params must be an object or an array");
  }

  JsonRpcMessage message;
  if (id != nullptr) message.id_raw = id->raw_value;
  if (params != nullptr) message.params_raw = params->raw_value;

  if (method != nullptr) {
    if (result != nullptr || error != nullptr) {
      return Bad("method together with result or error");
    }
    if (method->type != JsonType::kString) {
      return Bad("method must be a string");
    }
    SC_ASSIGN_OR_RETURN(message.method, UnescapeJsonString(method->raw_value));
    if (id_is_null) return Bad("a request id must not be null");
    message.kind =
        id != nullptr ? JsonRpcKind::kRequest : JsonRpcKind::kNotification;
    return message;
  }
  if (result != nullptr && error != nullptr) {
    return Bad("both result and error");
  }
  if (result != nullptr) {
    if (id == nullptr || id_is_null) return Bad("a result needs a non-null id");
    message.kind = JsonRpcKind::kResultResponse;
    message.result_raw = result->raw_value;
    return message;
  }
  if (error != nullptr) {
    if (id == nullptr) return Bad("an error response needs an id (maybe null)");
    message.kind = JsonRpcKind::kErrorResponse;
    SC_RETURN_IF_ERROR(ParseError(*error, &message));
    return message;
  }
  return Bad("neither method nor result nor error");
}

bool LooksLikeBatch(absl::string_view text) {
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '[';
  }
  return false;
}

std::string BuildRequest(absl::string_view id_raw, absl::string_view method,
                         absl::string_view params_raw) {
  std::string out = absl::StrCat(R"({"jsonrpc":"2.0","id":)", id_raw,
                                 R"(,"method":)", QuoteJsonString(method));
  if (!params_raw.empty()) absl::StrAppend(&out, R"(,"params":)", params_raw);
  out.push_back('}');
  return out;
}

std::string BuildNotification(absl::string_view method,
                              absl::string_view params_raw) {
  std::string out =
      absl::StrCat(R"({"jsonrpc":"2.0","method":)", QuoteJsonString(method));
  if (!params_raw.empty()) absl::StrAppend(&out, R"(,"params":)", params_raw);
  out.push_back('}');
  return out;
}

std::string BuildResultResponse(absl::string_view id_raw,
                                absl::string_view result_raw) {
  return absl::StrCat(R"({"jsonrpc":"2.0","id":)", id_raw, R"(,"result":)",
                      result_raw, "}");
}

std::string BuildErrorResponse(absl::string_view id_raw, int64_t code,
                               absl::string_view message,
                               absl::string_view data_raw) {
  std::string out = absl::StrCat(
      R"({"jsonrpc":"2.0","id":)", id_raw.empty() ? "null" : id_raw,
      R"(,"error":{"code":)", code, R"(,"message":)", QuoteJsonString(message));
  if (!data_raw.empty()) absl::StrAppend(&out, R"(,"data":)", data_raw);
  absl::StrAppend(&out, "}}");
  return out;
}

}  // namespace shadowcat
