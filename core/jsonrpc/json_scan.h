#ifndef SHADOWCAT_CORE_JSONRPC_JSON_SCAN_H_
#define SHADOWCAT_CORE_JSONRPC_JSON_SCAN_H_

// A validating JSON scanner that reports raw spans instead of building a DOM.
// The sidecar forwards JSON values verbatim: a DOM round trip would lose
// number precision (1e400, 64-bit+ integers), key order and the difference
// between the ids "1" and 1. Pure code, no I/O; safe on any input.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

struct JsonScanOptions {
  // Most arrays/objects that may be open at once. The scanner is iterative, so
  // this bounds memory and downstream recursion, not this code's stack.
  int max_depth = 64;
};

// Validates that `text` is exactly one JSON value (RFC 8259; surrounding
// whitespace allowed), strictly: no trailing commas, no comments, no leading
// zeros, valid escapes including \u surrogate pairs, no raw control
// characters in strings, strings must be valid UTF-8 (MCP requires UTF-8,
// SH-08). Returns InvalidArgument naming the byte offset and the problem.
absl::Status ValidateJson(absl::string_view text, JsonScanOptions options = {});

enum class JsonType { kNull, kBool, kNumber, kString, kArray, kObject };

struct JsonMember {
  std::string key;  // Unescaped.
  // Span into the scanned input, without surrounding whitespace.
  absl::string_view raw_value;
  JsonType type;
};

// Validates `text` as a JSON object and returns its top-level members in
// order (duplicate keys kept, in order). Nested values are validated, not
// expanded. The returned spans point into `text`.
absl::StatusOr<std::vector<JsonMember>> ScanObject(
    absl::string_view text, JsonScanOptions options = {});

// Validates `text` as a JSON array and returns its elements' raw spans, in
// order (pointing into `text`).
absl::StatusOr<std::vector<absl::string_view>> ScanArray(
    absl::string_view text, JsonScanOptions options = {});

// Decodes a raw JSON string token (with its quotes, nothing around it) into
// UTF-8.
absl::StatusOr<std::string> UnescapeJsonString(
    absl::string_view raw_string_token);

// Encodes `s` as a JSON string token with quotes: escapes ", \ and control
// characters (short forms where JSON has them, else \u00XX). `s` should be
// UTF-8; each byte of an invalid sequence becomes U+FFFD so that the result
// is always valid JSON.
std::string QuoteJsonString(absl::string_view s);

// Returns true if `s` is well-formed UTF-8 (no overlong forms, no encoded
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// Finds the first top-level member named `key`; nullptr if absent.
const JsonMember* FindMember(const std::vector<JsonMember>& members,
                             absl::string_view key);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_JSONRPC_JSON_SCAN_H_
