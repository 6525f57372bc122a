#include "core/jsonrpc/json_path.h"

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(JsonPathTest, FindsANestedMemberAsASpanOfTheText) {
  const std::string text =
      R"({"name":"x","_meta":{"progressToken":123456789012345678901,"k":1}})";
  std::optional<absl::string_view> token =
      FindMemberPath(text, {"_meta", "progressToken"});
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(*token, "123456789012345678901");  // verbatim, no precision lost
  EXPECT_EQ(ReplaceSpan(text, *token, R"("s-1")"),
            R"({"name":"x","_meta":{"progressToken":"s-1","k":1}})");
}

TEST(JsonPathTest, MissingStepsAndNonObjectsGiveNothing) {
  EXPECT_FALSE(FindMemberPath(R"({"a":1})", {"b"}).has_value());
  EXPECT_FALSE(FindMemberPath(R"({"a":1})", {"a", "b"}).has_value());
  EXPECT_FALSE(FindMemberPath(R"([1,2])", {"a"}).has_value());
  EXPECT_FALSE(FindMemberPath(R"({"a":)", {"a"}).has_value());
  EXPECT_EQ(*FindMemberPath(R"({"a":{"b":"c"}})", {"a"}), R"({"b":"c"})");
}

}  // namespace
}  // namespace shadowcat
