#include "core/http/upstream_allowlist.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

struct CheckCase {
  const char* url;
  bool allowed;
};

// F4: with the entry http://10.0.0.5:8080/mcp, nothing a normalising server
// or proxy could resolve outside /mcp passes.
TEST(UpstreamAllowlistTest, DotSegmentsAndEncodingsAreRefused) {
  auto list = UpstreamAllowlist::Create({"http://10.0.0.5:8080/mcp"});
  ASSERT_TRUE(list.ok()) << list.status();
  const CheckCase cases[] = {
      {"http://10.0.0.5:8080/mcp", true},
      {"http://10.0.0.5:8080/mcp/", true},
      {"http://10.0.0.5:8080/mcp/tools/x.json", true},
      {"http://10.0.0.5:8080/mcp/...", true},  // not a dot segment
      {"http://10.0.0.5:8080/mcp/.well", true},
      {"http://10.0.0.5:8080/mcp?next=/../admin", true},  // query: not a path
      {"http://10.0.0.5:8080/mcp?redirect=%2Fadmin", true},
      {"http://10.0.0.5:8080/mcp/%41", true},  // other encodings: harmless
      {"http://10.0.0.5:8080/mcp/../admin", false},
      {"http://10.0.0.5:8080/mcp/..", false},
      {"http://10.0.0.5:8080/mcp/./x", false},
      {"http://10.0.0.5:8080/mcp/.", false},
      {"http://10.0.0.5:8080/mcp/x/../../admin", false},
      {"http://10.0.0.5:8080/mcp/..;/admin", false},
      {"http://10.0.0.5:8080/mcp/%2e%2e/admin", false},
      {"http://10.0.0.5:8080/mcp/%2E%2E/admin", false},
      {"http://10.0.0.5:8080/mcp/.%2e/admin", false},
      {"http://10.0.0.5:8080/mcp/%2e/admin", false},
      {"http://10.0.0.5:8080/mcp/..%2fadmin", false},
      {"http://10.0.0.5:8080/mcp/..%2Fadmin", false},
      {"http://10.0.0.5:8080/mcp%2f..%2fadmin", false},
      {"http://10.0.0.5:8080/mcp/..%5cadmin", false},
      {"http://10.0.0.5:8080/mcp/..%5Cadmin", false},
      {"http://10.0.0.5:8080/mcp/..\\admin", false},
      {"http://10.0.0.5:8080/mcp\\..\\admin", false},
      {"http://10.0.0.5:8080/admin", false},
  };
  for (const CheckCase& c : cases) {
    SCOPED_TRACE(c.url);
    absl::StatusOr<Url> url = ParseUrl(c.url);
    ASSERT_TRUE(url.ok()) << url.status();
    absl::Status status = list->Check(*url);
    EXPECT_EQ(status.ok(), c.allowed) << status;
    if (!c.allowed) {
      EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
    }
  }
}

TEST(UpstreamAllowlistTest, RefusalSaysWhyWithoutTheQuery) {
  auto list = UpstreamAllowlist::Create({"http://10.0.0.5:8080/mcp"});
  ASSERT_TRUE(list.ok());
  auto url = ParseUrl("http://10.0.0.5:8080/mcp/%2e%2e/admin?token=secret");
  ASSERT_TRUE(url.ok());
  absl::Status status = list->Check(*url);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(status.message(), "percent-encoded")) << status;
  EXPECT_FALSE(absl::StrContains(status.message(), "secret")) << status;
}

struct OriginCase {
  const char* entry;
  const char* url;
  bool allowed;
};

TEST(UpstreamAllowlistTest, OriginTable) {
  const OriginCase cases[] = {
      // Scheme and host are case-insensitive, in the entry and the URL.
      {"HTTP://MCP.Internal:8080/mcp", "http://mcp.internal:8080/mcp", true},
      {"http://mcp.internal:8080/mcp", "hTTp://Mcp.INTERNAL:8080/mcp", true},
      // The path is case-sensitive.
      {"http://mcp.internal:8080/mcp", "http://mcp.internal:8080/MCP", false},
      // http and https are different origins, each with its default port.
      {"https://mcp.internal/mcp", "https://mcp.internal:443/mcp", true},
      {"https://mcp.internal/mcp", "http://mcp.internal:443/mcp", false},
      {"http://mcp.internal/mcp", "http://mcp.internal:80/mcp", true},
      {"http://mcp.internal/mcp", "https://mcp.internal/mcp", false},
      {"http://mcp.internal/mcp", "http://mcp.internal:8080/mcp", false},
      {"http://mcp.internal:8080/mcp", "http://mcp.internal/mcp", false},
      // IPv6 literals, compared canonically.
      {"http://[::1]:8080/mcp", "http://[::1]:8080/mcp", true},
      {"http://[::1]:8080/mcp", "http://[0:0::1]:8080/mcp/x", true},
      {"http://[2001:DB8::1]:8080", "http://[2001:db8::1]:8080/mcp", true},
      {"http://[::1]:8080/mcp", "http://[::2]:8080/mcp", false},
      {"http://[::1]:8080/mcp", "http://127.0.0.1:8080/mcp", false},
      {"http://[::1]:8080/mcp", "http://[::1]:8081/mcp", false},
      // A trailing slash on the entry changes nothing.
      {"http://127.0.0.1:3000/mcp/", "http://127.0.0.1:3000/mcp", true},
      {"http://127.0.0.1:3000/", "http://127.0.0.1:3000/anything", true},
  };
  for (const OriginCase& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.entry, " vs ", c.url));
    auto list = UpstreamAllowlist::Create({c.entry});
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_EQ(Allowed(*list, c.url), c.allowed);
  }
}

TEST(UpstreamAllowlistTest, EntriesThatCannotMeanWhatTheySayAreRejected) {
  const struct {
    const char* entry;
    const char* why;  // part of the message
  } cases[] = {
      {"http://127.0.0.1:", "no port"},
      {"http://127.0.0.1:/mcp", "no port"},
      {"http://[::1]:/mcp", "no port"},
      {"http://127.0.0.1:8080/mcp?x=1", "query"},
      {"http://127.0.0.1:8080/mcp?", "query"},
      {"http://127.0.0.1:8080/mcp#top", "fragment"},
      {"http://127.0.0.1:8080abc/mcp", "invalid port"},
      {"http://127.0.0.1:8080/mcp extra", "space"},
      {"ftp://127.0.0.1/mcp", "scheme"},
      {"ws://127.0.0.1:8080/mcp", "scheme"},
      {"127.0.0.1:8080/mcp", "scheme"},
      {"http://user@127.0.0.1:8080/mcp", "userinfo"},
      {"http://127.0.0.1:8080/mcp/../admin", "dot segment"},
      {"http://127.0.0.1:8080/./mcp", "dot segment"},
      {"http://127.0.0.1:8080/mcp/%2e%2e", "percent-encoded"},
      {"http://127.0.0.1:8080/mcp%2Fx", "percent-encoded"},
      {"http://127.0.0.1:8080/mcp%5cx", "percent-encoded"},
      {"http://127.0.0.1:8080/mcp\\x", "backslash"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.entry);
    absl::Status status = UpstreamAllowlist::ValidateEntry(c.entry);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), c.entry)) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), c.why)) << status;
    // Create() stops at the same entry, even after a good one.
    auto list = UpstreamAllowlist::Create(
        {"http://127.0.0.1:9/ok", std::string(c.entry)});
    ASSERT_FALSE(list.ok());
    EXPECT_EQ(list.status(), status);
  }
}

TEST(UpstreamAllowlistTest, GoodEntriesAreAccepted) {
  for (const char* entry : {
           "http://127.0.0.1:8080/mcp",
           "http://127.0.0.1:8080",
           "http://127.0.0.1:8080/",
           "https://mcp.example.com/mcp/v1/",
           "http://mcp.internal/mcp",
           "HTTPS://MCP.EXAMPLE.COM/mcp",
           "http://[::1]:8080/mcp",
           "http://[fe80::1]/",
       }) {
    SCOPED_TRACE(entry);
    EXPECT_TRUE(UpstreamAllowlist::ValidateEntry(entry).ok())
        << UpstreamAllowlist::ValidateEntry(entry);
  }
  // Empty entries (a trailing comma in the flag) are skipped.
  auto list = UpstreamAllowlist::Create({"", "http://127.0.0.1:8080/mcp", ""});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_FALSE(list->empty());
}

TEST(RemoveDotSegmentsTest, Rfc3986Examples) {
  const std::pair<const char*, const char*> cases[] = {
      {"/a/b/c/./../../g", "/a/g"},
      {"/mcp/../admin", "/admin"},
      {"/mcp/./x", "/mcp/x"},
      {"/a/..", "/"},
      {"/a/.", "/a/"},
      {"/..", "/"},
      {"/../../x", "/x"},
      {"/mcp/...", "/mcp/..."},
      {"/mcp/%2e%2e/x", "/mcp/%2e%2e/x"},  // encoded dots are not decoded
      {"/", "/"},
      {"", ""},
      {"/a//b", "/a//b"},
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(RemoveDotSegments(in), out) << in;
  }
}

}  // namespace
}  // namespace shadowcat
