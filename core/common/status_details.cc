#include "core/common/status_details.h"

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace shadowcat {
namespace {

// The payload's type URL; private to this file, as is its encoding: one line
// per field, "key<TAB>C-escaped value", the reason first under an empty key.
constexpr char kTypeUrl[] = "type.shadowcat.v1/StatusDetails";

void AppendField(std::string& out, absl::string_view key,
                 absl::string_view value) {
  absl::StrAppend(&out, key, "\t", absl::CEscape(value), "\n");
}

}  // namespace

std::optional<std::string> StatusDetails::Find(absl::string_view key) const {
  for (const auto& [name, value] : metadata) {
    if (name == key) return value;
  }
  return std::nullopt;
}

void SetStatusDetails(absl::Status& status, const StatusDetails& details) {
  if (status.ok()) return;
  std::string encoded;
  AppendField(encoded, "", details.reason);
  for (const auto& [key, value] : details.metadata) {
    AppendField(encoded, key, value);
  }
  status.SetPayload(kTypeUrl, absl::Cord(std::move(encoded)));
}

namespace {

// `status` with a new message, its code and payloads kept.
absl::Status WithMessage(const absl::Status& status, std::string message) {
  if (status.ok()) return status;
  absl::Status out(status.code(), message);
  status.ForEachPayload(
      [&out](absl::string_view type_url, const absl::Cord& payload) {
        out.SetPayload(type_url, payload);
      });
  return out;
}

}  // namespace

absl::Status PrefixStatusMessage(const absl::Status& status,
                                 absl::string_view prefix) {
  return WithMessage(status, absl::StrCat(prefix, status.message()));
}

absl::Status SuffixStatusMessage(const absl::Status& status,
                                 absl::string_view suffix) {
  return WithMessage(status, absl::StrCat(status.message(), suffix));
}

std::optional<StatusDetails> GetStatusDetails(const absl::Status& status) {
  auto payload = status.GetPayload(kTypeUrl);  // absl::optional here
  if (!payload.has_value()) return std::nullopt;
  StatusDetails details;
  bool first = true;
  for (absl::string_view line :
       absl::StrSplit(std::string(*payload), '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> field =
        absl::StrSplit(line, absl::MaxSplits('\t', 1));
    std::string value;
    if (!absl::CUnescape(field.second, &value)) return std::nullopt;
    if (first) {
      details.reason = std::move(value);
      first = false;
    } else {
      details.metadata.emplace_back(std::string(field.first), std::move(value));
    }
  }
  return details;
}

}  // namespace shadowcat
