#include "core/common/redact.h"

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(RedactTest, UrlLosesUserinfoQueryAndFragment) {
  EXPECT_EQ(RedactUrl("https://user:pw@mcp.example:8443/mcp?token=x#frag"),
            "https://mcp.example:8443/mcp?<redacted>");
  EXPECT_EQ(RedactUrl("http://a@b@host/p"), "http://host/p");
  EXPECT_EQ(RedactUrl("http://host?k=v"), "http://host?<redacted>");
  EXPECT_EQ(RedactUrl("http://host/mcp#t"), "http://host/mcp?<redacted>");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:80/mcp"), "http://127.0.0.1:80/mcp");
  EXPECT_EQ(RedactUrl("/mcp?token=x"), "/mcp?<redacted>");
  EXPECT_EQ(RedactUrl(""), "");
}

TEST(RedactTest, IdShowsAPrefixAndLengthOnly) {
  EXPECT_EQ(RedactId("0123456789abcdef0123456789abcdef"), "012345...(32)");
  EXPECT_EQ(RedactId("short-id"), "<redacted>(8)");
  EXPECT_EQ(RedactId(""), "<redacted>(0)");
}

}  // namespace
}  // namespace shadowcat
