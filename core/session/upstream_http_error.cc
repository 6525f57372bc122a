#include "core/session/upstream_http_error.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_details.h"
#include "core/jsonrpc/jsonrpc_message.h"

namespace shadowcat {
namespace {

using Code = absl::StatusCode;

// One row per HTTP status with a meaning of its own; `last` > `first` makes a
// range. The first matching row wins, so exact rows precede their class.
struct HttpErrorRow {
  int first;
  int last;
  Code code;
  // Why, for the message; empty when the code says it all.
  const char* meaning;
};

constexpr HttpErrorRow kHttpErrorTable[] = {
    // 3xx reach here only when not followed (another origin, a POST
    // redirected by 301/302/303, a loop, too many hops: redirect_policy.h,
    // whose reason the message carries): our configuration decides.
    {300, 399, Code::kFailedPrecondition, "redirect not followed"},
    {400, 400, Code::kInvalidArgument, "the upstream refused the request"},
    {401, 401, Code::kUnauthenticated, "the upstream requires credentials"},
    {403, 403, Code::kPermissionDenied, "the upstream refused access"},
    // Expired session (SM-05) or no MCP endpoint at the URL: the message
    // says which (UpstreamHttpError).
    {404, 404, Code::kNotFound, ""},
    // The upstream does not speak this transport the way we do.
    {405, 405, Code::kFailedPrecondition, "method not allowed"},
    {406, 406, Code::kFailedPrecondition, "not acceptable"},
    {408, 408, Code::kDeadlineExceeded, "the upstream timed out the request"},
    {409, 409, Code::kAborted, "conflict"},
    {410, 410, Code::kNotFound, "gone"},
    {413, 413, Code::kResourceExhausted, "request too large"},
    {415, 415, Code::kFailedPrecondition, "unsupported media type"},
    {422, 422, Code::kInvalidArgument, "unprocessable request"},
    {429, 429, Code::kResourceExhausted, "too many requests"},
    {400, 499, Code::kFailedPrecondition, ""},
    {501, 501, Code::kUnimplemented, "not implemented"},
    {504, 504, Code::kDeadlineExceeded, "gateway timeout"},
    {500, 599, Code::kUnavailable, ""},
};

const HttpErrorRow* FindRow(int http_status) {
  for (const HttpErrorRow& row : kHttpErrorTable) {
    if (http_status >= row.first && http_status <= row.last) return &row;
  }
  return nullptr;
}

// A text body's start, printable, for the message: enough to recognize an
// ingress's error page, too little to carry a document.
std::string BodySnippet(absl::string_view body) {
  constexpr size_t kMaxSnippet = 120;
  std::string out;
  for (char c : absl::StripAsciiWhitespace(body)) {
    if (out.size() == kMaxSnippet) {
      out += "...";
      break;
    }
    out += absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : ' ';
  }
  return out;
}

}  // namespace

absl::StatusCode HttpErrorCode(int http_status) {
  const HttpErrorRow* row = FindRow(http_status);
  return row != nullptr ? row->code : Code::kUnknown;
}

std::optional<int64_t> ParseRetryAfter(absl::string_view value,
                                       absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (!value.empty() && absl::ascii_isdigit(value.front()) &&
      absl::SimpleAtoi(value, &seconds)) {
    return seconds;
  }
  // IMF-fixdate, the only form a sender may generate (RFC 9110 5.6.7).
  absl::Time when;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(),
                       &when, &error)) {
    return std::nullopt;
  }
  if (when <= now) return 0;
  return absl::ToInt64Seconds(absl::Ceil(when - now, absl::Seconds(1)));
}

absl::Status UpstreamHttpError(const HttpErrorAnswer& answer, absl::Time now) {
  const int http = answer.http_status;
  const absl::StatusCode code = HttpErrorCode(http);
  StatusDetails details;
  details.reason = kReasonUpstreamHttpError;
  details.metadata.emplace_back(kDetailHttpStatus, absl::StrCat(http));

  std::string message = absl::StrCat("upstream returned HTTP ", http, " for ",
                                     answer.request_method);
  if (http == 404) {
    absl::StrAppend(
        &message,
        answer.sent_session_id
            ? ": the upstream session expired"
            : absl::StrCat(
                  ": no MCP endpoint at ", answer.url.Origin(),
                  answer.url.target.substr(0, answer.url.target.find('?'))));
  } else if (const HttpErrorRow* row = FindRow(http);
             row != nullptr && row->meaning[0] != '\0') {
    absl::StrAppend(&message, " (", row->meaning,
                    answer.redirect_refusal.empty() ? "" : ": ",
                    answer.redirect_refusal, ")");
  }

  // SH-07: a JSON-RPC error body is the heart of the message, verbatim.
  absl::StatusOr<JsonRpcMessage> rpc = ParseJsonRpcMessage(answer.body);
  if (rpc.ok() && rpc->kind == JsonRpcKind::kErrorResponse) {
    absl::StrAppend(&message, ": JSON-RPC error ", rpc->error_code, ": ",
                    rpc->error_message);
    details.metadata.emplace_back(kDetailJsonRpcCode,
                                  absl::StrCat(rpc->error_code));
    details.metadata.emplace_back(kDetailJsonRpcMessage, rpc->error_message);
    if (!rpc->error_data_raw.empty()) {
      details.metadata.emplace_back(kDetailJsonRpcData,
                                    std::string(rpc->error_data_raw));
    }
  } else if (std::string snippet = BodySnippet(answer.body); !snippet.empty()) {
    absl::StrAppend(&message, ": \"", snippet, "\"");
  }

  if (!answer.retry_after.empty()) {
    if (std::optional<int64_t> delay =
            ParseRetryAfter(answer.retry_after, now)) {
      absl::StrAppend(&message, "; retry after ", *delay, " s");
      details.metadata.emplace_back(kDetailRetryAfterSeconds,
                                    absl::StrCat(*delay));
    }
  }
  if (!answer.www_authenticate.empty()) {
    // A challenge, not a secret, but header values stay out of messages.
    details.metadata.emplace_back(kDetailWwwAuthenticate,
                                  answer.www_authenticate);
  }
  absl::Status status(code, message);
  SetStatusDetails(status, details);
  return status;
}

absl::Status BadResponseError(absl::string_view what) {
  absl::Status status = absl::UnavailableError(
      absl::StrCat("upstream sent an invalid response: ", what));
  SetStatusDetails(status, StatusDetails{kReasonUpstreamBadResponse, {}});
  return status;
}

}  // namespace shadowcat
