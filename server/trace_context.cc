#include "server/trace_context.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace shadowcat {
namespace {

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(absl::string_view text) {
  return text.find_first_not_of('0') == absl::string_view::npos;
}

bool IsKeyChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '_' || c == '-' || c == '*' || c == '/');
}

// key = simple-key / multi-tenant-key ("tenant@system"), each part starting
// with a lower-case letter or digit.
bool IsValidKey(absl::string_view key) {
  if (key.empty() || key.size() > 256) return false;
  const size_t at = key.find('@');
  std::vector<absl::string_view> parts =
      at == absl::string_view::npos
          ? std::vector<absl::string_view>{key}
          : std::vector<absl::string_view>{key.substr(0, at),
                                           key.substr(at + 1)};
  for (absl::string_view part : parts) {
    if (part.empty()) return false;
    for (size_t i = 0; i < part.size(); ++i) {
      if (!IsKeyChar(part[i], i == 0)) return false;
    }
  }
  return true;
}

// value = 0-255 printable ASCII except ',' and '=', then one that is not a
// space.
bool IsValidValue(absl::string_view value) {
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

}  // namespace

bool IsValidTraceparent(absl::string_view value) {
  constexpr size_t kLength = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (value.size() < kLength) return false;
  const absl::string_view version = value.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return false;
  if (version == "00" ? value.size() != kLength
                      : value.size() > kLength && value[kLength] != '-') {
    return false;
  }
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
  const absl::string_view trace_id = value.substr(3, 32);
  const absl::string_view parent_id = value.substr(36, 16);
  const absl::string_view flags = value.substr(53, 2);
  return IsLowerHex(trace_id) && !AllZero(trace_id) && IsLowerHex(parent_id) &&
         !AllZero(parent_id) && IsLowerHex(flags);
}

bool IsValidTracestate(absl::string_view value) {
  if (value.size() > 512) return false;
  int members = 0;
  for (absl::string_view member : absl::StrSplit(value, ',')) {
    member = absl::StripAsciiWhitespace(member);
    if (member.empty()) continue;  // empty list members are allowed
    const size_t equals = member.find('=');
    if (equals == absl::string_view::npos ||
        !IsValidKey(member.substr(0, equals)) ||
        !IsValidValue(member.substr(equals + 1)) || ++members > 32) {
      return false;
    }
  }
  return members > 0;
}

HeaderList TraceContextHeaders(absl::string_view traceparent,
                               absl::string_view tracestate) {
  HeaderList headers;
  if (!IsValidTraceparent(traceparent)) return headers;
  headers.emplace_back("traceparent", std::string(traceparent));
  if (IsValidTracestate(tracestate)) {
    headers.emplace_back("tracestate", std::string(tracestate));
  }
  return headers;
}

}  // namespace shadowcat
