#include "core/session/protocol_version.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kSupported[] = {"2025-11-25", "2025-06-18",
                                            "2025-03-26"};

std::string SupportedList() {
  return absl::StrCat(kSupported[0], ", ", kSupported[1], ", ", kSupported[2]);
}

}  // namespace

bool IsSupportedProtocolVersion(absl::string_view version) {
  for (absl::string_view v : kSupported) {
    if (v == version) return true;
  }
  return false;
}

absl::Status CheckOfferedVersion(absl::string_view version) {
  if (IsSupportedProtocolVersion(version) ||
      version == kModernProtocolVersion) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("protocol_version \"", absl::CEscape(version),
                   "\" is not supported; use ", kModernProtocolVersion,
                   " or one of ", SupportedList()));
}

absl::Status CheckNegotiatedVersion(absl::string_view version) {
  if (IsSupportedProtocolVersion(version)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "upstream chose protocol version \"",
      absl::CEscape(version.substr(0, 64)),
      "\", which Shadowcat does not speak (", SupportedList(), ")"));
}

}  // namespace shadowcat
