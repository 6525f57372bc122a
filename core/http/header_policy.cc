#include "core/http/header_policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kReserved[] = {
    "mcp-session-id",
    "mcp-protocol-version",
    "host",
    "content-length",
    "content-type",
    "accept",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "last-event-id",
    "content-encoding",
    "accept-encoding",
};

bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
         absl::string_view::npos;
}

}  // namespace

absl::Status CheckCallerHeader(absl::string_view name,
                               absl::string_view value) {
  if (name.empty()) return absl::InvalidArgumentError("header name is empty");
  for (char c : name) {
    if (!IsTokenChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header name \"", absl::CEscape(name), "\" is not a valid token"));
    }
  }
  std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view reserved : kReserved) {
    if (lower == reserved) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header ", name, " is set by Shadowcat and cannot be overridden"));
    }
  }
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header ", name, " has a control character in its value"));
    }
  }
  return absl::OkStatus();
}

}  // namespace shadowcat
