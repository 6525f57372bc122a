#ifndef SHADOWCAT_SERVER_MCP_WIRE_H_
#define SHADOWCAT_SERVER_MCP_WIRE_H_

// The MCP *server* side of the Streamable HTTP wire (session era, 2025-03-26 ..
// 2025-11-25), shared by the built-in demo upstream and the tests' fake
// upstream so that both speak the protocol the same way. Everything here is
// pure (no I/O) except SendHttpReply().
//
// Untrusted input (request bodies) is parsed with Boost.JSON and never throws.

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "boost/json/object.hpp"
#include "boost/json/value.hpp"
#include "server/http_server.h"

namespace shadowcat {

inline constexpr absl::string_view kMcpSessionIdHeader = "Mcp-Session-Id";
inline constexpr absl::string_view kMcpProtocolVersionHeader =
    "MCP-Protocol-Version";
// What a server answers when the client asks for a version it does not know.
inline constexpr absl::string_view kLatestMcpProtocolVersion = "2025-11-25";

// JSON-RPC 2.0 error codes, plus the one MCP servers use for an unknown
// session.
inline constexpr int kJsonRpcParseError = -32700;
inline constexpr int kJsonRpcInvalidRequest = -32600;
inline constexpr int kJsonRpcMethodNotFound = -32601;
inline constexpr int kJsonRpcInvalidParams = -32602;
inline constexpr int kJsonRpcInternalError = -32603;
inline constexpr int kMcpSessionNotFound = -32001;

// ---------------------------------------------------------------------------
// Versions

// True for 2025-11-25, 2025-06-18 and 2025-03-26.
bool IsSupportedMcpProtocolVersion(absl::string_view version);
// The client's version when supported, else kLatestMcpProtocolVersion.
std::string NegotiateMcpProtocolVersion(absl::string_view requested);

// ---------------------------------------------------------------------------
// Reading a POST body

enum class McpMessageKind { kRequest, kNotification, kResponse };

struct McpMessage {
  McpMessageKind kind = McpMessageKind::kRequest;
  std::string method;  // empty for responses
  // An int or a string for requests; also null for responses; else null.
  boost::json::value id;
  boost::json::object params;  // empty when the message has none
  // `params._meta.progressToken` of a request; null when absent.
  boost::json::value progress_token;
};

struct JsonRpcError {
  int code = 0;
  std::string message;
};

// Reads one JSON-RPC message. On failure returns the error to answer with (HTTP
// 400, id null): kJsonRpcParseError when the body is not JSON,
// kJsonRpcInvalidRequest when it is JSON but not a single JSON-RPC 2.0 message
// (batches included: no supported version needs them).
std::variant<McpMessage, JsonRpcError> ParseMcpMessage(absl::string_view body);

// `params.protocolVersion` of an initialize request; empty when absent.
std::string McpRequestedProtocolVersion(const McpMessage& initialize);

// ---------------------------------------------------------------------------
// Writing JSON-RPC messages. `id` is re-serialized, so an int or string id
// comes back as sent.

std::string JsonRpcResultJson(const boost::json::value& id,
                              const boost::json::value& result);
// `raw_result` is spliced in unchecked, so tests can send malformed results on
// purpose.
std::string JsonRpcRawResultJson(const boost::json::value& id,
                                 absl::string_view raw_result);
std::string JsonRpcErrorJson(const boost::json::value& id, int code,
                             absl::string_view message);
// `raw_error` is spliced in unchecked (the whole error object).
std::string JsonRpcRawErrorJson(const boost::json::value& id,
                                absl::string_view raw_error);
std::string JsonRpcNotificationJson(absl::string_view method,
                                    boost::json::object params);

// The JSON-RPC error for a failed method: InvalidArgument and NotFound ->
// invalid params, Unimplemented -> method not found, anything else -> internal
// error. Uses the message.
JsonRpcError JsonRpcErrorFromStatus(const absl::Status& status);
// The response to request `id`: its result, or the error
// JsonRpcErrorFromStatus() picks.
std::string JsonRpcReplyJson(const boost::json::value& id,
                             const absl::StatusOr<boost::json::value>& outcome);

// One SSE event of type "message" carrying `data` (each line of `data` becomes
// a data: line).
std::string SseMessageEvent(absl::string_view data);

// ---------------------------------------------------------------------------
// MCP results

struct McpServerInfo {
  std::string name;
  std::string version;
  std::string instructions;  // omitted from the result when empty
};

// The initialize result for `protocol_version`, advertising the tools
// capability only.
boost::json::object McpInitializeResult(absl::string_view protocol_version,
                                        const McpServerInfo& info);
// A CallToolResult with one text content block.
boost::json::object McpTextToolResult(absl::string_view text);

// A tool a server offers: its tools/list entry and, unless the server answers
// it itself (e.g. as a stream), the function computing its CallToolResult from
// `arguments`.
struct McpTool {
  boost::json::object definition;  // name, description, inputSchema
  std::function<absl::StatusOr<boost::json::object>(
      const boost::json::object& arguments)>
      call;
};

// `echo`: {text: string} -> the same text.
McpTool McpEchoTool();

// The `name` of a tools/call request; empty when it has none.
std::string McpToolCallName(const McpMessage& request);
// The `arguments` of a tools/call request (empty when absent); InvalidArgument
// when they are not an object.
absl::StatusOr<boost::json::object> McpToolCallArguments(
    const McpMessage& request);

// Answers the methods every server here shares: ping, tools/list over `tools`,
// and tools/call for a tool with a `call` (unknown tool: InvalidArgument). Any
// other method, initialize included, is Unimplemented: callers answer
// initialize themselves.
absl::StatusOr<boost::json::value> AnswerMcpRequest(
    const McpMessage& request, absl::Span<const McpTool> tools);

// ---------------------------------------------------------------------------
// HTTP replies

struct HttpReply {
  int status = 200;
  HttpHeaders headers;
  std::string body;
};

// `body` as application/json.
HttpReply JsonHttpReply(int status, std::string body);
// A JSON-RPC error with id null, as servers answer requests they refuse before
// dispatch.
HttpReply JsonRpcErrorHttpReply(int status, int code,
                                absl::string_view message);
// 202 with no body: the answer to notifications and responses.
HttpReply AcceptedHttpReply();
// 405 for the methods the endpoint does not serve (GET: no standalone stream).
HttpReply MethodNotAllowedHttpReply();
// The response headers of an SSE stream (no caching, no proxy buffering).
HttpHeaders SseResponseHeaders();
// The path part of a request target ("/mcp?x=1" -> "/mcp").
absl::string_view RequestPath(absl::string_view target);

void SendHttpReply(HttpResponseWriter& writer, HttpReply reply);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_MCP_WIRE_H_
