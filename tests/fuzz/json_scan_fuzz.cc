// Fuzzes the JSON scanner and the JSON-RPC classifier. Besides "no crash, no
// out-of-bounds read" (the sanitizers' part), it checks the properties the
// sidecar relies on: the entry points agree with each other, every span lies
// inside the input, and what the builders and QuoteJsonString write parses
// back to the same thing.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"

namespace shadowcat {
namespace {

// A plain abort keeps the check active in optimized fuzzing builds, where
// assert() may be compiled out.
void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "json_scan_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

bool Within(absl::string_view span, absl::string_view input) {
  if (span.empty()) return true;
  return span.data() >= input.data() &&
         span.data() + span.size() <= input.data() + input.size();
}

bool IsJsonWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char FirstNonWhitespace(absl::string_view s) {
  for (const char c : s) {
    if (!IsJsonWhitespace(c)) return c;
  }
  return '\0';
}

bool TypeMatchesFirstByte(JsonType type, char c) {
  switch (type) {
    case JsonType::kNull:
      return c == 'n';
    case JsonType::kBool:
      return c == 't' || c == 'f';
    case JsonType::kNumber:
      return c == '-' || (c >= '0' && c <= '9');
    case JsonType::kString:
      return c == '"';
    case JsonType::kArray:
      return c == '[';
    case JsonType::kObject:
      return c == '{';
  }
  return false;
}

void CheckMembers(const std::vector<JsonMember>& members,
                  absl::string_view input) {
  for (const JsonMember& m : members) {
    Check(!m.raw_value.empty(), "empty member value");
    Check(Within(m.raw_value, input), "member span outside the input");
    Check(!IsJsonWhitespace(m.raw_value.front()) &&
              !IsJsonWhitespace(m.raw_value.back()),
          "member span has surrounding whitespace");
    Check(TypeMatchesFirstByte(m.type, m.raw_value.front()),
          "member type does not match its first byte");
    Check(ValidateJson(m.raw_value).ok(), "member value is not valid JSON");
    Check(IsValidUtf8(m.key), "member key is not UTF-8");
  }
}

void CheckMessageSpans(const JsonRpcMessage& msg, absl::string_view input) {
  Check(Within(msg.id_raw, input), "id span outside the input");
  Check(Within(msg.params_raw, input), "params span outside the input");
  Check(Within(msg.result_raw, input), "result span outside the input");
  Check(Within(msg.error_data_raw, input), "error data outside the input");
}

// Rebuilds the message with the builders and checks it parses back the same.
void CheckRebuild(const JsonRpcMessage& msg) {
  std::string rebuilt;
  switch (msg.kind) {
    case JsonRpcKind::kRequest:
      rebuilt = BuildRequest(msg.id_raw, msg.method, msg.params_raw);
      break;
    case JsonRpcKind::kNotification:
      rebuilt = BuildNotification(msg.method, msg.params_raw);
      break;
    case JsonRpcKind::kResultResponse:
      rebuilt = BuildResultResponse(msg.id_raw, msg.result_raw);
      break;
    case JsonRpcKind::kErrorResponse:
      rebuilt = BuildErrorResponse(msg.id_raw, msg.error_code,
                                   msg.error_message, msg.error_data_raw);
      break;
  }
  auto again = ParseJsonRpcMessage(rebuilt);
  Check(again.ok(), "rebuilt message does not parse");
  Check(again->kind == msg.kind, "rebuilt kind differs");
  Check(again->method == msg.method, "rebuilt method differs");
  Check(again->id_raw == msg.id_raw, "rebuilt id differs");
  Check(again->params_raw == msg.params_raw, "rebuilt params differ");
  Check(again->result_raw == msg.result_raw, "rebuilt result differs");
  Check(again->error_code == msg.error_code, "rebuilt code differs");
  Check(again->error_message == msg.error_message, "rebuilt message differs");
  Check(again->error_data_raw == msg.error_data_raw, "rebuilt data differs");
}

void FuzzOne(absl::string_view input) {
  const absl::Status valid = ValidateJson(input);
  Check(valid.ok() || valid.code() == absl::StatusCode::kInvalidArgument,
        "ValidateJson returned an unexpected code");

  // A stricter depth limit can only refuse more.
  const int small_depth =
      input.empty() ? 0 : static_cast<unsigned char>(input[0]) % 8;
  if (ValidateJson(input, {.max_depth = small_depth}).ok()) {
    Check(valid.ok(), "valid at a small depth but not at the default");
  }

  // Run on every input, not only valid ones: the scanners must be safe on
  // anything and must agree.
  auto members = ScanObject(input);
  if (members.ok()) {
    Check(valid.ok(), "ScanObject accepted what ValidateJson refused");
    CheckMembers(*members, input);
  } else {
    Check(members.status().code() == absl::StatusCode::kInvalidArgument,
          "ScanObject returned an unexpected code");
    Check(!valid.ok() || FirstNonWhitespace(input) != '{',
          "ScanObject refused a valid object");
  }

  auto msg = ParseJsonRpcMessage(input);
  if (msg.ok()) {
    Check(members.ok(), "a JSON-RPC message that is not an object");
    CheckMessageSpans(*msg, input);
    CheckRebuild(*msg);
  } else {
    Check(msg.status().code() == absl::StatusCode::kInvalidArgument,
          "ParseJsonRpcMessage returned an unexpected code");
  }
  (void)LooksLikeBatch(input);

  // Quoting always yields a valid token that decodes back to the input when
  // the input is UTF-8 (else to its U+FFFD-repaired form).
  const std::string quoted = QuoteJsonString(input);
  Check(ValidateJson(quoted).ok(), "QuoteJsonString wrote invalid JSON");
  auto unquoted = UnescapeJsonString(quoted);
  Check(unquoted.ok(), "QuoteJsonString output does not decode");
  if (IsValidUtf8(input)) {
    Check(*unquoted == input, "quote/unescape round trip changed the input");
  } else {
    Check(IsValidUtf8(*unquoted), "repaired string is not UTF-8");
  }

  // If the input is a string token, decoding and re-quoting is stable.
  auto decoded = UnescapeJsonString(input);
  if (decoded.ok()) {
    Check(valid.ok(), "UnescapeJsonString accepted invalid JSON");
    Check(IsValidUtf8(*decoded), "decoded string is not UTF-8");
    auto again = UnescapeJsonString(QuoteJsonString(*decoded));
    Check(again.ok() && *again == *decoded, "re-quoted string differs");
  }
}

}  // namespace
}  // namespace shadowcat

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shadowcat::FuzzOne(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
