// The pure HTTP error table: codes, messages, details, Retry-After forms.

#include "core/session/upstream_http_error.h"

#include "absl/time/time.h"
#include "core/common/status_details.h"
#include "core/http/url.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TEST(HttpErrorCodeTest, ClassesFallBackToTheirRow) {
  EXPECT_EQ(HttpErrorCode(302), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(HttpErrorCode(451), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(HttpErrorCode(599), absl::StatusCode::kUnavailable);
  EXPECT_EQ(HttpErrorCode(700), absl::StatusCode::kUnknown);
}

TEST(ParseRetryAfterTest, DelaySeconds) {
  EXPECT_EQ(ParseRetryAfter("120", kNow), 120);
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), 0);
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
}

TEST(ParseRetryAfterTest, HttpDate) {
  const std::string in_90s =
      absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", kNow + absl::Seconds(90),
                       absl::UTCTimeZone());
  EXPECT_EQ(ParseRetryAfter(in_90s, kNow), 90);
  const std::string past = absl::FormatTime(
      "%a, %d %b %Y %H:%M:%S GMT", kNow - absl::Hours(1), absl::UTCTimeZone());
  EXPECT_EQ(ParseRetryAfter(past, kNow), 0);
  EXPECT_EQ(ParseRetryAfter("tomorrow", kNow), std::nullopt);
}

TEST(UpstreamHttpErrorTest, JsonRpcBodyIsTheCoreOfTheMessage) {
  HttpErrorAnswer answer;
  answer.http_status = 429;
  answer.request_method = "POST";
  answer.retry_after = "3";
  answer.body =
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32029,"message":"slow down"}})";
  absl::Status status = UpstreamHttpError(answer, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("HTTP 429 for POST"));
  EXPECT_THAT(status.message(), HasSubstr("JSON-RPC error -32029: slow down"));
  std::optional<StatusDetails> details = GetStatusDetails(status);
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->reason, kReasonUpstreamHttpError);
  EXPECT_EQ(details->Find(kDetailHttpStatus), "429");
  EXPECT_EQ(details->Find(kDetailRetryAfterSeconds), "3");
  EXPECT_EQ(details->Find(kDetailJsonRpcCode), "-32029");
  EXPECT_EQ(details->Find(kDetailJsonRpcData), std::nullopt);
}

TEST(UpstreamHttpErrorTest, NotFoundNamesUrlWithoutItsQuery) {
  HttpErrorAnswer answer;
  answer.http_status = 404;
  answer.request_method = "POST";
  answer.url = *ParseUrl("http://example.test:8080/mcp?token=secret");
  absl::Status status = UpstreamHttpError(answer, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(),
              HasSubstr("no MCP endpoint at http://example.test:8080/mcp"));
  EXPECT_THAT(status.message(), Not(HasSubstr("secret")));
  answer.sent_session_id = true;
  EXPECT_THAT(UpstreamHttpError(answer, kNow).message(),
              HasSubstr("the upstream session expired"));
}

TEST(UpstreamHttpErrorTest, TextBodyIsQuotedShortAndPrintable) {
  HttpErrorAnswer answer;
  answer.http_status = 502;
  answer.request_method = "GET";
  answer.body = "bad\ngateway" + std::string(500, 'x');
  absl::Status status = UpstreamHttpError(answer, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("\"bad gateway"));
  EXPECT_LT(status.message().size(), 250u);
}

// PX-08: a redirect the HTTP client refused says why, inside the table's
// meaning; the code stays the 3xx row's.
TEST(UpstreamHttpErrorTest, PX08_RedirectRefusalIsInTheMessage) {
  HttpErrorAnswer answer;
  answer.http_status = 307;
  answer.request_method = "POST";
  answer.redirect_refusal = "its Location is on another origin, http://x:80";
  absl::Status status = UpstreamHttpError(answer, kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(),
              HasSubstr("upstream returned HTTP 307 for POST (redirect not "
                        "followed: its Location is on another origin, "
                        "http://x:80)"));
  answer.redirect_refusal.clear();
  EXPECT_THAT(UpstreamHttpError(answer, kNow).message(),
              HasSubstr("(redirect not followed)"));
}

TEST(StatusDetailsTest, SurviveCopiesAndPrefixes) {
  absl::Status status = absl::UnavailableError("x");
  SetStatusDetails(status, StatusDetails{"R", {{"k", "a\tb\nc\\"}}});
  absl::Status prefixed = PrefixStatusMessage(status, "p: ");
  EXPECT_EQ(prefixed.message(), "p: x");
  std::optional<StatusDetails> details = GetStatusDetails(prefixed);
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->reason, "R");
  EXPECT_EQ(details->Find("k"), "a\tb\nc\\");
  EXPECT_FALSE(GetStatusDetails(absl::UnavailableError("x")).has_value());
}

}  // namespace
}  // namespace shadowcat
