#include "core/http/header_policy.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(HeaderPolicyTest, OrdinaryHeadersPass) {
  EXPECT_TRUE(CheckCallerHeader("Authorization", "Bearer abc.def").ok());
  EXPECT_TRUE(CheckCallerHeader("X-Tenant", "a\tb").ok());
}

TEST(HeaderPolicyTest, ControlCharactersAreRefusedWithoutEchoingTheValue) {
  for (const std::string& value : std::vector<std::string>{
           "a\r\nX: 1", std::string("a\0b", 3), "a\nb", "\x7f"}) {
    absl::Status status = CheckCallerHeader("X-Secret", value);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message().find(value), absl::string_view::npos);
  }
}

TEST(HeaderPolicyTest, TransportHeadersAreReserved) {
  for (const char* name :
       {"Mcp-Session-Id", "mcp-protocol-version", "Host", "Content-Length",
        "Transfer-Encoding", "Connection", "Accept", "Content-Type"}) {
    EXPECT_EQ(CheckCallerHeader(name, "x").code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
}

TEST(HeaderPolicyTest, NamesMustBeTokens) {
  EXPECT_FALSE(CheckCallerHeader("", "x").ok());
  EXPECT_FALSE(CheckCallerHeader("Bad Name", "x").ok());
  EXPECT_FALSE(CheckCallerHeader("Bad:Name", "x").ok());
}

}  // namespace
}  // namespace shadowcat
