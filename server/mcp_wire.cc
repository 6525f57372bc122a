#include "server/mcp_wire.h"

#include <array>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/string.hpp"

namespace shadowcat {
namespace {

constexpr std::array<absl::string_view, 3> kSupportedVersions = {
    "2025-11-25", "2025-06-18", "2025-03-26"};

boost::json::string_view ToJsonView(absl::string_view s) {
  return boost::json::string_view(s.data(), s.size());
}

absl::string_view ToAbslView(const boost::json::string& s) {
  return absl::string_view(s.data(), s.size());
}

// JSON-RPC ids are strings or integers; MCP forbids null ids on requests.
bool IsValidRequestId(const boost::json::value& id) {
  return id.is_string() || id.is_int64() || id.is_uint64();
}

JsonRpcError InvalidRequest(absl::string_view why) {
  return {kJsonRpcInvalidRequest, std::string(why)};
}

std::variant<McpMessage, JsonRpcError> ToMcpMessage(
    boost::json::object& object) {
  const boost::json::value* version = object.if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() ||
      version->get_string() != "2.0") {
    return InvalidRequest("jsonrpc must be \"2.0\"");
  }
  McpMessage message;
  if (boost::json::value* params = object.if_contains("params")) {
    if (!params->is_object()) return InvalidRequest("params must be an object");
    message.params = std::move(params->get_object());
  }
  const boost::json::value* id = object.if_contains("id");
  if (const boost::json::value* method = object.if_contains("method")) {
    if (!method->is_string()) return InvalidRequest("method must be a string");
    message.method = std::string(ToAbslView(method->get_string()));
    if (id == nullptr) {
      message.kind = McpMessageKind::kNotification;
      return message;
    }
    if (!IsValidRequestId(*id))
      return InvalidRequest("id must be a string or an integer");
    message.kind = McpMessageKind::kRequest;
    message.id = *id;
    if (const boost::json::value* meta = message.params.if_contains("_meta")) {
      if (const boost::json::object* meta_object = meta->if_object()) {
        const boost::json::value* token =
            meta_object->if_contains("progressToken");
        if (token != nullptr && IsValidRequestId(*token))
          message.progress_token = *token;
      }
    }
    return message;
  }
  if (object.contains("result") || object.contains("error")) {
    // An error response to a message the client could not parse carries id
    // null.
    if (id == nullptr || !(id->is_null() || IsValidRequestId(*id))) {
      return InvalidRequest("response id must be a string, an integer or null");
    }
    message.kind = McpMessageKind::kResponse;
    message.id = *id;
    return message;
  }
  return InvalidRequest("not a JSON-RPC request, notification or response");
}

std::string MessageEnvelope(const boost::json::value& id,
                            absl::string_view member,
                            absl::string_view raw_value) {
  return absl::StrCat(R"({"jsonrpc":"2.0","id":)", boost::json::serialize(id),
                      ",\"", member, "\":", raw_value, "}");
}

boost::json::object StringProperty() { return {{"type", "string"}}; }

}  // namespace

bool IsSupportedMcpProtocolVersion(absl::string_view version) {
  for (absl::string_view supported : kSupportedVersions) {
    if (version == supported) return true;
  }
  return false;
}

std::string NegotiateMcpProtocolVersion(absl::string_view requested) {
  return std::string(IsSupportedMcpProtocolVersion(requested)
                         ? requested
                         : kLatestMcpProtocolVersion);
}

std::variant<McpMessage, JsonRpcError> ParseMcpMessage(absl::string_view body) {
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(ToJsonView(body), ec);
  if (ec)
    return JsonRpcError{kJsonRpcParseError,
                        "Parse error: body is not valid JSON"};
  boost::json::object* object = parsed.if_object();
  if (object == nullptr) {
    return InvalidRequest(parsed.is_array()
                              ? "JSON-RPC batches are not supported"
                              : "a JSON-RPC message must be an object");
  }
  return ToMcpMessage(*object);
}

std::string McpRequestedProtocolVersion(const McpMessage& initialize) {
  const boost::json::value* version =
      initialize.params.if_contains("protocolVersion");
  if (version == nullptr || !version->is_string()) return "";
  return std::string(ToAbslView(version->get_string()));
}

std::string JsonRpcResultJson(const boost::json::value& id,
                              const boost::json::value& result) {
  return JsonRpcRawResultJson(id, boost::json::serialize(result));
}

std::string JsonRpcRawResultJson(const boost::json::value& id,
                                 absl::string_view raw_result) {
  return MessageEnvelope(id, "result", raw_result);
}

std::string JsonRpcErrorJson(const boost::json::value& id, int code,
                             absl::string_view message) {
  boost::json::object error{{"code", code}, {"message", ToJsonView(message)}};
  return JsonRpcRawErrorJson(id, boost::json::serialize(error));
}

std::string JsonRpcRawErrorJson(const boost::json::value& id,
                                absl::string_view raw_error) {
  return MessageEnvelope(id, "error", raw_error);
}

std::string JsonRpcNotificationJson(absl::string_view method,
                                    boost::json::object params) {
  boost::json::object message{{"jsonrpc", "2.0"},
                              {"method", ToJsonView(method)},
                              {"params", std::move(params)}};
  return boost::json::serialize(message);
}

JsonRpcError JsonRpcErrorFromStatus(const absl::Status& status) {
  int code = kJsonRpcInternalError;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      code = kJsonRpcInvalidParams;
      break;
    case absl::StatusCode::kUnimplemented:
      code = kJsonRpcMethodNotFound;
      break;
    default:
      break;
  }
  return {code, std::string(status.message())};
}

std::string JsonRpcReplyJson(
    const boost::json::value& id,
    const absl::StatusOr<boost::json::value>& outcome) {
  if (outcome.ok()) return JsonRpcResultJson(id, *outcome);
  JsonRpcError error = JsonRpcErrorFromStatus(outcome.status());
  return JsonRpcErrorJson(id, error.code, error.message);
}

std::string SseMessageEvent(absl::string_view data) {
  std::string event = "event: message\n";
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    absl::StrAppend(&event, "data: ", absl::StripSuffix(line, "\r"), "\n");
  }
  event += "\n";
  return event;
}

boost::json::object McpInitializeResult(absl::string_view protocol_version,
                                        const McpServerInfo& info) {
  boost::json::object result{
      {"protocolVersion", ToJsonView(protocol_version)},
      {"capabilities", {{"tools", boost::json::object()}}},
      {"serverInfo", {{"name", info.name}, {"version", info.version}}},
  };
  if (!info.instructions.empty()) result["instructions"] = info.instructions;
  return result;
}

boost::json::object McpTextToolResult(absl::string_view text) {
  boost::json::array content;
  content.push_back(
      boost::json::object{{"type", "text"}, {"text", ToJsonView(text)}});
  return {{"content", std::move(content)}};
}

McpTool McpEchoTool() {
  McpTool tool;
  tool.definition = {
      {"name", "echo"},
      {"description", "Returns the given text."},
      {"inputSchema",
       {{"type", "object"},
        {"properties", {{"text", StringProperty()}}},
        {"required", boost::json::array{"text"}}}},
  };
  tool.call = [](const boost::json::object& arguments)
      -> absl::StatusOr<boost::json::object> {
    const boost::json::value* text = arguments.if_contains("text");
    if (text == nullptr || !text->is_string()) {
      return absl::InvalidArgumentError(
          "echo needs a string argument \"text\"");
    }
    return McpTextToolResult(ToAbslView(text->get_string()));
  };
  return tool;
}

std::string McpToolCallName(const McpMessage& request) {
  const boost::json::value* name = request.params.if_contains("name");
  if (name == nullptr || !name->is_string()) return "";
  return std::string(ToAbslView(name->get_string()));
}

absl::StatusOr<boost::json::object> McpToolCallArguments(
    const McpMessage& request) {
  const boost::json::value* arguments = request.params.if_contains("arguments");
  if (arguments == nullptr) return boost::json::object();
  if (!arguments->is_object()) {
    return absl::InvalidArgumentError("tools/call arguments must be an object");
  }
  return arguments->get_object();
}

absl::StatusOr<boost::json::value> AnswerMcpRequest(
    const McpMessage& request, absl::Span<const McpTool> tools) {
  if (request.method == "ping") return boost::json::object();
  if (request.method == "tools/list") {
    boost::json::array list;
    for (const McpTool& tool : tools) list.push_back(tool.definition);
    return boost::json::object{{"tools", std::move(list)}};
  }
  if (request.method != "tools/call") {
    return absl::UnimplementedError(
        absl::StrCat("method not found: ", request.method));
  }
  std::string name = McpToolCallName(request);
  for (const McpTool& tool : tools) {
    const boost::json::value* tool_name = tool.definition.if_contains("name");
    if (tool_name == nullptr || !tool_name->is_string() ||
        ToAbslView(tool_name->get_string()) != name) {
      continue;
    }
    if (!tool.call) {
      return absl::InternalError(
          absl::StrCat("tool ", name, " has no handler"));
    }
    absl::StatusOr<boost::json::object> arguments =
        McpToolCallArguments(request);
    if (!arguments.ok()) return arguments.status();
    absl::StatusOr<boost::json::object> result = tool.call(*arguments);
    if (!result.ok()) return result.status();
    return boost::json::value(*std::move(result));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown tool: ", name));
}

HttpReply JsonHttpReply(int status, std::string body) {
  return {status, {{"Content-Type", "application/json"}}, std::move(body)};
}

HttpReply JsonRpcErrorHttpReply(int status, int code,
                                absl::string_view message) {
  return JsonHttpReply(status, JsonRpcErrorJson(nullptr, code, message));
}

HttpReply AcceptedHttpReply() { return {202, {}, ""}; }

HttpReply MethodNotAllowedHttpReply() {
  return {405, {{"Allow", "POST, DELETE"}}, ""};
}

HttpHeaders SseResponseHeaders() {
  return {{"Content-Type", "text/event-stream"},
          {"Cache-Control", "no-cache"},
          {"X-Accel-Buffering", "no"}};
}

absl::string_view RequestPath(absl::string_view target) {
  return target.substr(0, target.find('?'));
}

void SendHttpReply(HttpResponseWriter& writer, HttpReply reply) {
  writer.SendFull(reply.status, std::move(reply.headers),
                  std::move(reply.body));
}

}  // namespace shadowcat
