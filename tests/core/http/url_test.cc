#include "core/http/url.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

struct GoodCase {
  std::string input;
  std::string scheme;
  std::string host;
  uint16_t port;
  std::string target;
  std::string origin;
  std::string host_header;
  std::string normalized;
};

TEST(ParseUrlTest, AcceptsAbsoluteHttpUrls) {
  const GoodCase cases[] = {
      {"http://example.com", "http", "example.com", 80, "/",
       "http://example.com:80", "example.com", "http://example.com/"},
      {"HTTP://Example.COM:8080/mcp?x=1#frag", "http", "example.com", 8080,
       "/mcp?x=1", "http://example.com:8080", "example.com:8080",
       "http://example.com:8080/mcp?x=1"},
      {"https://api.example.com/v1/mcp", "https", "api.example.com", 443,
       "/v1/mcp", "https://api.example.com:443", "api.example.com",
       "https://api.example.com/v1/mcp"},
      {"https://h:443/", "https", "h", 443, "/", "https://h:443", "h",
       "https://h/"},
      {"http://h:443/", "http", "h", 443, "/", "http://h:443", "h:443",
       "http://h:443/"},
      {"http://127.0.0.1:3000/mcp", "http", "127.0.0.1", 3000, "/mcp",
       "http://127.0.0.1:3000", "127.0.0.1:3000", "http://127.0.0.1:3000/mcp"},
      {"http://[::1]:8080/mcp", "http", "::1", 8080, "/mcp",
       "http://[::1]:8080", "[::1]:8080", "http://[::1]:8080/mcp"},
      {"http://[2001:DB8::1]/", "http", "2001:db8::1", 80, "/",
       "http://[2001:db8::1]:80", "[2001:db8::1]", "http://[2001:db8::1]/"},
      // One address, one origin: IPv6 literals are made canonical.
      {"http://[0:0:0::1]:8080/mcp", "http", "::1", 8080, "/mcp",
       "http://[::1]:8080", "[::1]:8080", "http://[::1]:8080/mcp"},
      {"https://[2001:db8:0:0:0:0:0:1]/", "https", "2001:db8::1", 443, "/",
       "https://[2001:db8::1]:443", "[2001:db8::1]", "https://[2001:db8::1]/"},
      {"http://h?q=1", "http", "h", 80, "/?q=1", "http://h:80", "h",
       "http://h/?q=1"},
      {"http://h#only-fragment", "http", "h", 80, "/", "http://h:80", "h",
       "http://h/"},
      {"http://h:/x", "http", "h", 80, "/x", "http://h:80", "h", "http://h/x"},
      {"http://my_host.local:65535/a/b%20c", "http", "my_host.local", 65535,
       "/a/b%20c", "http://my_host.local:65535", "my_host.local:65535",
       "http://my_host.local:65535/a/b%20c"},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.input);
    absl::StatusOr<Url> url = ParseUrl(c.input);
    ASSERT_TRUE(url.ok()) << url.status();
    EXPECT_EQ(url->scheme, c.scheme);
    EXPECT_EQ(url->host, c.host);
    EXPECT_EQ(url->port, c.port);
    EXPECT_EQ(url->target, c.target);
    EXPECT_EQ(url->Origin(), c.origin);
    EXPECT_EQ(url->HostHeader(), c.host_header);
    EXPECT_EQ(url->ToString(), c.normalized);
    // Normalizing is idempotent.
    absl::StatusOr<Url> again = ParseUrl(url->ToString());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->ToString(), c.normalized);
  }
}

TEST(ParseUrlTest, RejectsEverythingElse) {
  const char* cases[] = {
      "",
      "example.com/mcp",
      "//example.com/",
      "ftp://example.com/",
      "ws://example.com/",
      "http://",
      "http:///path",
      "http://:8080/",
      "http://user:pass@example.com/",
      "http://token@example.com/",
      "http://example.com:0/",
      "http://example.com:65536/",
      "http://example.com:99999999999/",
      "http://example.com:8o/",
      "http://example.com:-1/",
      "http://exa mple.com/",
      "http://example.com/a b",
      "http://example.com/\r\nX-Injected: 1",
      "http://example.com/\x01",
      "http://example.com/\x7f",
      "http://ex\xc3\xa4mple.com/",
      "http://[::1/",
      "http://[not-ipv6]/",
      "http://[::1]x/",
      "http://[::1]:/",  // Empty port after an IPv6 literal is allowed...
      "http://exa%6dple.com/",
      "http://a:b:c/",
  };
  for (const char* input : cases) {
    SCOPED_TRACE(input);
    absl::StatusOr<Url> url = ParseUrl(input);
    if (std::string(input) == "http://[::1]:/") {
      // ...and means the default port, like for a name.
      ASSERT_TRUE(url.ok()) << url.status();
      EXPECT_EQ(url->port, 80);
      continue;
    }
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseUrlTest, ErrorsDoNotEchoTheUrl) {
  absl::StatusOr<Url> url = ParseUrl("ftp://host/?token=secret123");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(std::string(url.status().message()).find("secret123"),
            std::string::npos);
  url = ParseUrl("http://user:secret123@host/");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(std::string(url.status().message()).find("secret123"),
            std::string::npos);
}

}  // namespace
}  // namespace shadowcat

namespace shadowcat {
namespace {

// LG-01/LG-03: the legacy transport's `endpoint` event is a URI reference
// resolved against the SSE URL.
TEST(ResolveReferenceTest, ResolvesEveryReferenceForm) {
  absl::StatusOr<Url> base = ParseUrl("http://127.0.0.1:8080/mcp/sse?x=1");
  ASSERT_TRUE(base.ok());
  struct Case {
    const char* reference;
    const char* expected;
  };
  const Case cases[] = {
      {"/messages?session_id=abc",
       "http://127.0.0.1:8080/messages?session_id=abc"},
      {"messages?sessionId=1",
       "http://127.0.0.1:8080/mcp/messages?sessionId=1"},
      {"../message", "http://127.0.0.1:8080/message"},
      {"?s=2", "http://127.0.0.1:8080/mcp/sse?s=2"},
      {"//127.0.0.1:9000/m", "http://127.0.0.1:9000/m"},
      {"https://other.example/m#frag", "https://other.example/m"},
      {"  /a/./b/../c  ", "http://127.0.0.1:8080/a/c"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Url> url = ResolveReference(*base, c.reference);
    ASSERT_TRUE(url.ok()) << c.reference << ": " << url.status();
    EXPECT_EQ(url->ToString(), c.expected) << c.reference;
  }
}

TEST(ResolveReferenceTest, RefusesWhatParseUrlRefuses) {
  absl::StatusOr<Url> base = ParseUrl("http://127.0.0.1:8080/sse");
  ASSERT_TRUE(base.ok());
  EXPECT_FALSE(ResolveReference(*base, "ftp://host/x").ok());
  EXPECT_FALSE(ResolveReference(*base, "http://user:pw@host/x").ok());
  EXPECT_FALSE(ResolveReference(*base, "/a\x01b").ok());
}

}  // namespace
}  // namespace shadowcat
