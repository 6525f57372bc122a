// DecideRedirect (PX-08, SC-02): which 3xx answers are followed, and what a
// refusal says (an origin and a path, never a query or userinfo).

#include "core/http/redirect_policy.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOrigin[] = "http://10.0.0.5:8080";

class RedirectPolicyTest : public ::testing::Test {
 protected:
  RedirectPolicyTest()
      : allowlist_(*UpstreamAllowlist::Create({"http://10.0.0.5:8080/mcp"})) {
    visited_.push_back(*ParseUrl("http://10.0.0.5:8080/mcp?key=1"));
  }

  RedirectDecision Decide(absl::string_view method, int status,
                          std::optional<absl::string_view> location) {
    RedirectRequest request;
    request.method = method;
    request.status = status;
    request.location = location;
    request.visited = visited_;
    request.allowlist = &allowlist_;
    return DecideRedirect(request);
  }

  UpstreamAllowlist allowlist_;
  std::vector<Url> visited_;
};

TEST_F(RedirectPolicyTest, PX08_SameOrigin307And308AreFollowedForPost) {
  for (int status : {307, 308}) {
    RedirectDecision decision = Decide("POST", status, "/mcp/v2?x=1");
    ASSERT_TRUE(decision.follow) << status << ": " << decision.refusal;
    EXPECT_EQ(decision.target.ToString(), "http://10.0.0.5:8080/mcp/v2?x=1");
  }
  // Relative and absolute forms of the same place.
  RedirectDecision relative = Decide("POST", 307, "mcp/next");
  ASSERT_TRUE(relative.follow) << relative.refusal;
  EXPECT_EQ(relative.target.target, "/mcp/next");
  EXPECT_TRUE(Decide("DELETE", 308, "http://10.0.0.5:8080/mcp/x").follow);
}

TEST_F(RedirectPolicyTest, PX08_301To303AreFollowedOnlyForGetAndHead) {
  for (int status : {301, 302, 303}) {
    SCOPED_TRACE(status);
    EXPECT_TRUE(Decide("GET", status, "/mcp/sse").follow);
    EXPECT_TRUE(Decide("HEAD", status, "/mcp/sse").follow);
    for (const char* method : {"POST", "DELETE"}) {
      RedirectDecision decision = Decide(method, status, "/mcp/sse");
      EXPECT_FALSE(decision.follow);
      EXPECT_THAT(decision.refusal, HasSubstr(absl::StrCat(
                                        "a ", method, " redirected by ", status,
                                        " would be re-sent as a GET")));
    }
  }
}

TEST_F(RedirectPolicyTest, SC02_AnotherOriginIsNeverFollowed) {
  // Host, port and scheme each make another origin, even one the allowlist
  // would allow.
  allowlist_ = *UpstreamAllowlist::Create(
      {"http://10.0.0.5:8080/mcp", "http://10.0.0.6:8080",
       "https://10.0.0.5:8080", "http://10.0.0.5:9090"});
  for (const char* location :
       {"http://10.0.0.6:8080/mcp?token=secret", "https://10.0.0.5:8080/mcp",
        "//10.0.0.5:9090/mcp", "http://169.254.169.254/latest/meta-data"}) {
    SCOPED_TRACE(location);
    RedirectDecision decision = Decide("POST", 307, location);
    EXPECT_FALSE(decision.follow);
    EXPECT_THAT(decision.refusal, HasSubstr("another origin"));
    EXPECT_THAT(decision.refusal, Not(HasSubstr("secret")));
    EXPECT_THAT(decision.refusal, Not(HasSubstr("/mcp")));
  }
  EXPECT_THAT(
      Decide("POST", 307, "http://10.0.0.6:8080/mcp?token=secret").refusal,
      HasSubstr("another origin, http://10.0.0.6:8080,"));
  EXPECT_THAT(Decide("GET", 302, "http://169.254.169.254/").refusal,
              HasSubstr("http://169.254.169.254:80"));
}

TEST_F(RedirectPolicyTest, SC02_UserinfoIsNotFollowedNorEchoed) {
  RedirectDecision decision =
      Decide("POST", 307, "http://admin:hunter2@10.0.0.5:8080/mcp");
  EXPECT_FALSE(decision.follow);
  EXPECT_THAT(decision.refusal, HasSubstr("not a usable http(s) URL"));
  EXPECT_THAT(decision.refusal, Not(HasSubstr("hunter2")));
}

TEST_F(RedirectPolicyTest, PX08_TheAllowlistStillDecidesThePath) {
  RedirectDecision decision = Decide("POST", 307, "/admin?x=secret");
  EXPECT_FALSE(decision.follow);
  EXPECT_THAT(decision.refusal,
              HasSubstr(absl::StrCat("its Location ", kOrigin,
                                     "/admin is not allowed")));
  EXPECT_THAT(decision.refusal, Not(HasSubstr("secret")));
  // Dot segments cannot climb out of the allowed prefix either.
  EXPECT_FALSE(Decide("POST", 307, "/mcp/../admin").follow);
  EXPECT_FALSE(Decide("POST", 307, "/mcp/%2e%2e/admin").follow);
}

TEST_F(RedirectPolicyTest, PX08_LoopsAndLongChainsStop) {
  RedirectDecision loop = Decide("POST", 307, "/mcp?key=1");
  EXPECT_FALSE(loop.follow);
  EXPECT_THAT(loop.refusal, HasSubstr("loops back to " + std::string(kOrigin) +
                                      "/mcp, already visited"));
  // Three hops are fine; a fourth is not.
  visited_.push_back(*ParseUrl("http://10.0.0.5:8080/mcp/1"));
  visited_.push_back(*ParseUrl("http://10.0.0.5:8080/mcp/2"));
  EXPECT_TRUE(Decide("POST", 307, "/mcp/3").follow);
  visited_.push_back(*ParseUrl("http://10.0.0.5:8080/mcp/3"));
  RedirectDecision fourth = Decide("POST", 307, "/mcp/4");
  EXPECT_FALSE(fourth.follow);
  EXPECT_THAT(fourth.refusal, HasSubstr("at most 3 are followed"));
}

TEST_F(RedirectPolicyTest, PX08_WhatIsNotARedirectOrHasNoTarget) {
  EXPECT_THAT(Decide("POST", 307, std::nullopt).refusal,
              HasSubstr("no Location"));
  EXPECT_THAT(Decide("POST", 307, "  ").refusal, HasSubstr("no Location"));
  for (int status : {300, 304, 305, 306, 399}) {
    RedirectDecision decision = Decide("GET", status, "/mcp/x");
    EXPECT_FALSE(decision.follow) << status;
    EXPECT_THAT(decision.refusal, HasSubstr("names no redirect target"));
  }
  EXPECT_TRUE(IsRedirectStatus(300));
  EXPECT_TRUE(IsRedirectStatus(399));
  EXPECT_FALSE(IsRedirectStatus(200));
  EXPECT_FALSE(IsRedirectStatus(400));
}

TEST_F(RedirectPolicyTest, PX08_WithoutAnAllowlistNothingIsFollowed) {
  RedirectRequest request;
  request.method = "POST";
  request.status = 307;
  request.location = "/mcp/v2";
  request.visited = visited_;
  RedirectDecision decision = DecideRedirect(request);
  EXPECT_FALSE(decision.follow);
  EXPECT_EQ(decision.refusal, "redirects are not followed");
}

}  // namespace
}  // namespace shadowcat
