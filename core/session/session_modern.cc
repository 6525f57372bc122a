// Session: the sessionless 2026-07-28 revision (requirements section 13).
// server/discover replaces initialize; every request carries the protocol
// version and client capabilities in its params' _meta and the MCP-Protocol-
// Version, Mcp-Method and Mcp-Name headers; results (resultType,
// inputRequests, requestState of multi-round-trip requests) pass through
// verbatim, so a backend answers input requests by calling again with
// inputResponses. There is no upstream session, no GET stream, no resumption,
// and closing a response stream is the cancellation. Without a pinned version,
// server/discover is also the probe that picks the era (VN-11): a modern
// answer keeps it, anything else leads to initialize. subscriptions/listen is
// in session_listen.cc. The class is declared in session.h.

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/check.h"
#include "core/common/status_details.h"
#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/session/outcome_sink.h"
#include "core/session/protocol_version.h"
#include "core/session/session.h"
#include "core/session/upstream_http_error.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kVersionKey =
    "\"io.modelcontextprotocol/protocolVersion\"";
constexpr absl::string_view kCapabilitiesKey =
    "\"io.modelcontextprotocol/clientCapabilities\"";
constexpr absl::string_view kClientInfoKey =
    "\"io.modelcontextprotocol/clientInfo\"";

// The params member whose value Mcp-Name carries, per method.
absl::string_view NameSource(absl::string_view method) {
  if (method == "tools/call" || method == "prompts/get") return "name";
  if (method == "resources/read") return "uri";
  if (method == "tasks/get" || method == "tasks/update" ||
      method == "tasks/cancel") {
    return "taskId";
  }
  return "";
}

// A header value as is when it is plain visible ASCII, else base64 in the
// spec's sentinel (so any name survives the trip through a header).
std::string HeaderSafe(absl::string_view value) {
  bool plain = !value.empty() && value.front() != ' ' && value.back() != ' ' &&
               !absl::StartsWith(value, "=?base64?");
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) plain = false;
  }
  if (plain) return std::string(value);
  return absl::StrCat("=?base64?", absl::Base64Escape(value), "?=");
}

// Members of a JSON object text to add in front of its first member.
std::string PrependMembers(absl::string_view object,
                           absl::string_view members) {
  const size_t open = object.find('{');
  absl::string_view rest = object.substr(open + 1);
  const bool empty = absl::StripLeadingAsciiWhitespace(rest).front() == '}';
  return absl::StrCat(object.substr(0, open + 1), members, empty ? "" : ",",
                      rest);
}

// The codes of errors only a modern server sends (schema 2026-07-28):
// HeaderMismatch, MissingRequiredClientCapability, UnsupportedProtocolVersion.
bool IsModernErrorCode(int64_t code) {
  return code == -32020 || code == -32021 || code == -32022;
}

// Whether a JSON array of versions names one of the session era's.
bool ListsSessionEraVersion(absl::string_view versions_raw) {
  absl::StatusOr<std::vector<absl::string_view>> versions =
      ScanArray(versions_raw);
  if (!versions.ok()) return false;
  for (absl::string_view raw : *versions) {
    absl::StatusOr<std::string> version = UnescapeJsonString(raw);
    if (version.ok() && IsSupportedProtocolVersion(*version)) return true;
  }
  return false;
}

// VN-11: whether the answer to a server/discover probe says to go on with
// initialize. Yes for an HTTP refusal or a JSON-RPC error that is not a
// modern one (a session-era server answering an unknown method), and for a
// result that is not a discovery result; also when a modern server lists a
// session-era version we speak but not 2026-07-28 ("retry with a mutually
// supported version"). No when the upstream could not be reached (initialize
// would fail the same way) or the answer is modern: then discovery's own
// outcome stands.
bool ProbeSaysSessionEra(const absl::StatusOr<RpcResult>& result) {
  int64_t code = 0;
  std::string data_raw;
  if (!result.ok()) {
    std::optional<StatusDetails> details = GetStatusDetails(result.status());
    if (!details.has_value() || !details->Find(kDetailHttpStatus)) {
      return false;  // no HTTP answer at all
    }
    std::optional<std::string> rpc_code = details->Find(kDetailJsonRpcCode);
    if (!rpc_code.has_value() || !absl::SimpleAtoi(*rpc_code, &code)) {
      return true;  // a plain HTTP refusal (400, 404, 405, ...)
    }
    data_raw = details->Find(kDetailJsonRpcData).value_or("");
  } else if (result->is_error) {
    code = result->error_code;
    data_raw = result->error_data_raw;
  } else {
    std::optional<absl::string_view> versions =
        FindMemberPath(result->result_raw, {"supportedVersions"});
    if (!versions.has_value()) return true;  // not a discovery result
    return !absl::StrContains(
               *versions, absl::StrCat("\"", kModernProtocolVersion, "\"")) &&
           ListsSessionEraVersion(*versions);
  }
  if (!IsModernErrorCode(code)) return true;
  std::optional<absl::string_view> supported =
      FindMemberPath(data_raw, {"supported"});
  return code == -32022 && supported.has_value() &&
         ListsSessionEraVersion(*supported);
}

}  // namespace

std::string Session::WithModernMeta(absl::string_view params_raw) const {
  std::string envelope =
      absl::StrCat(kVersionKey, ":\"", kModernProtocolVersion, "\",",
                   kCapabilitiesKey, ":", params_.capabilities_raw, ",",
                   kClientInfoKey, ":", params_.client_info_raw);
  if (params_raw.empty()) return absl::StrCat("{\"_meta\":{", envelope, "}}");
  absl::StatusOr<std::vector<JsonMember>> members = ScanObject(params_raw);
  if (!members.ok()) return std::string(params_raw);  // an array: leave it
  const JsonMember* meta = FindMember(*members, "_meta");
  if (meta == nullptr || meta->type != JsonType::kObject) {
    return PrependMembers(params_raw,
                          absl::StrCat("\"_meta\":{", envelope, "}"));
  }
  // The caller's own _meta members stay; keys it set itself win (it may pin
  // what it declares), so only the missing ones are added.
  std::string added;
  for (absl::string_view key :
       {kVersionKey, kCapabilitiesKey, kClientInfoKey}) {
    if (absl::StrContains(meta->raw_value, key)) continue;
    const std::string value =
        key == kVersionKey ? absl::StrCat("\"", kModernProtocolVersion, "\"")
        : key == kCapabilitiesKey ? params_.capabilities_raw
                                  : params_.client_info_raw;
    absl::StrAppend(&added, added.empty() ? "" : ",", key, ":", value);
  }
  if (added.empty()) return std::string(params_raw);
  return ReplaceSpan(params_raw, meta->raw_value,
                     PrependMembers(meta->raw_value, added));
}

void Session::AddModernRequestHeaders(absl::string_view method,
                                      absl::string_view params_raw,
                                      HeaderList& headers) {
  headers.emplace_back("Mcp-Method", std::string(method));
  const absl::string_view source = NameSource(method);
  if (source.empty() || params_raw.empty()) return;
  std::optional<absl::string_view> raw = FindMemberPath(params_raw, {source});
  if (!raw.has_value() || !absl::StartsWith(*raw, "\"")) return;
  absl::StatusOr<std::string> name = UnescapeJsonString(*raw);
  if (name.ok()) headers.emplace_back("Mcp-Name", HeaderSafe(*name));
}

bool Session::ShouldSwitchToModern(const StreamEnd& end) const {
  if (modern_ || state_ != State::kInitializing ||
      end.reason != StreamReason::kHttpError || end.http_status != 400) {
    return false;
  }
  absl::StatusOr<JsonRpcMessage> message = ParseJsonRpcMessage(end.error_body);
  if (!message.ok() || message->kind != JsonRpcKind::kErrorResponse ||
      message->error_code != -32022) {
    return false;
  }
  std::optional<absl::string_view> supported =
      FindMemberPath(message->error_data_raw, {"supported"});
  return supported.has_value() &&
         absl::StrContains(*supported,
                           absl::StrCat("\"", kModernProtocolVersion, "\""));
}

void Session::SendDiscover(
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  SC_DCHECK_ON_STRAND(strand_);
  modern_ = true;
  CallParams call;
  call.method = "server/discover";
  call.params_raw = "{}";
  call.handle = "initialize";  // never cancellable, like initialize
  call.deadline = absl::Now() + params_.request_timeout;
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  auto sink = std::make_shared<OutcomeSink>(
      [weak = weak_from_this(), shared_done](absl::StatusOr<RpcResult> r) {
        // Weak, as for initialize (SendInitialize).
        if (auto self = weak.lock()) {
          self->OnDiscoverDone(std::move(r), std::move(*shared_done));
        } else {
          (*shared_done)(absl::UnavailableError("the session ended"));
        }
      });
  if (absl::Status started = StartCall(std::move(call), sink); !started.ok()) {
    state_ = State::kClosed;
    (*shared_done)(std::move(started));
  }
}

void Session::OnDiscoverDone(
    absl::StatusOr<RpcResult> result,
    absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done) {
  SC_DCHECK_ON_STRAND(strand_);
  if (std::exchange(probing_modern_, false) && ProbeSaysSessionEra(result)) {
    modern_ = false;  // the session era after all: initialize
    SendInitialize(std::move(done));
    return;
  }
  auto fail = [this, &done](absl::Status status) {
    state_ = State::kClosed;
    done(std::move(status));
  };
  if (!result.ok()) return fail(result.status());
  if (result->is_error) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("upstream refused server/discover for protocol version ",
                     kModernProtocolVersion, ": ", result->error_message,
                     " (code ", result->error_code, ")")));
  }
  absl::StatusOr<std::vector<JsonMember>> members =
      ScanObject(result->result_raw);
  if (!members.ok()) {
    return fail(absl::UnavailableError(
        "upstream sent an invalid response: the server/discover result is "
        "not an object"));
  }
  const JsonMember* versions = FindMember(*members, "supportedVersions");
  if (versions == nullptr ||
      !absl::StrContains(versions->raw_value,
                         absl::StrCat("\"", kModernProtocolVersion, "\""))) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("upstream does not list ", kModernProtocolVersion,
                     " in its supportedVersions")));
  }
  InitializeResult init;
  init.era = ProtocolEra::kSessionless;
  init.protocol_version = std::string(kModernProtocolVersion);
  if (const JsonMember* caps = FindMember(*members, "capabilities")) {
    init.capabilities_raw = std::string(caps->raw_value);
  }
  if (std::optional<absl::string_view> info =
          FindMemberPath(result->result_raw,
                         {"_meta", "io.modelcontextprotocol/serverInfo"})) {
    init.server_info_raw = std::string(*info);
  }
  if (const JsonMember* text = FindMember(*members, "instructions");
      text != nullptr && text->type == JsonType::kString) {
    absl::StatusOr<std::string> instructions =
        UnescapeJsonString(text->raw_value);
    if (instructions.ok()) init.instructions = *std::move(instructions);
  }
  protocol_version_ = init.protocol_version;
  // No GET in this era; subscriptions/listen is the server stream.
  server_capabilities_raw_ = init.capabilities_raw;
  server_stream_ = ServerStreamStatus::kNotOpened;
  state_ = State::kOpen;
  open_.store(true, std::memory_order_release);
  if (params_.open_server_stream) OpenServerStream();
  done(std::move(init));
}

}  // namespace shadowcat
