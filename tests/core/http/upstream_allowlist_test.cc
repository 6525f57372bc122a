#include "core/http/upstream_allowlist.h"

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

bool Allowed(const UpstreamAllowlist& list, const std::string& url) {
  absl::StatusOr<Url> parsed = ParseUrl(url);
  EXPECT_TRUE(parsed.ok()) << url;
  return parsed.ok() && list.Check(*parsed).ok();
}

TEST(UpstreamAllowlistTest, PathPrefixStopsAtSegmentBoundary) {
  auto list = UpstreamAllowlist::Create({"http://127.0.0.1:3000/mcp"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(Allowed(*list, "http://127.0.0.1:3000/mcp"));
  EXPECT_TRUE(Allowed(*list, "http://127.0.0.1:3000/mcp/v2"));
  EXPECT_TRUE(Allowed(*list, "http://127.0.0.1:3000/mcp?x=1"));
  EXPECT_FALSE(Allowed(*list, "http://127.0.0.1:3000/mcpx"));
  EXPECT_FALSE(Allowed(*list, "http://127.0.0.1:3000/"));
}

TEST(UpstreamAllowlistTest, OriginMustMatchExactly) {
  auto list = UpstreamAllowlist::Create({"http://mcp.internal:8080"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(Allowed(*list, "http://mcp.internal:8080/anything"));
  EXPECT_TRUE(Allowed(
      *list, "http://MCP.internal:8080/x"));  // hosts are case-insensitive
  EXPECT_FALSE(Allowed(*list, "http://mcp.internal:8081/x"));
  EXPECT_FALSE(Allowed(*list, "https://mcp.internal:8080/x"));
  EXPECT_FALSE(Allowed(*list, "http://mcp.internal.evil.com:8080/x"));
  EXPECT_FALSE(Allowed(*list, "http://169.254.169.254/latest"));
}

TEST(UpstreamAllowlistTest, EmptyDeniesEverything) {
  auto list = UpstreamAllowlist::Create({});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  auto url = ParseUrl("http://127.0.0.1/mcp");
  ASSERT_TRUE(url.ok());
  absl::Status status = list->Check(*url);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
}

TEST(UpstreamAllowlistTest, BadEntryIsNamed) {
  auto list = UpstreamAllowlist::Create({"ftp://x"});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(list.status().message().find("ftp://x"), absl::string_view::npos);
}

}  // namespace
}  // namespace shadowcat
