// SM-08: which tools/call requests session recovery may send again, learned
// from tools/list results (annotations.idempotentHint).

#include "core/session/tool_hints.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

std::string CallOf(const std::string& name) {
  return absl::StrCat(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":")",
      name, R"(","arguments":{}}})");
}

TEST(ToolHintsTest, OnlyToolsHintedIdempotentAreRetryable) {
  ToolHints hints;
  EXPECT_FALSE(hints.IsIdempotentToolCall(CallOf("lookup")));
  hints.Learn(
      R"({"tools":[{"name":"lookup","annotations":{"idempotentHint":true}},)"
      R"({"name":"deploy","annotations":{"idempotentHint":false}},)"
      R"({"name":"echo","annotations":{"readOnlyHint":true}},)"
      R"({"name":"odd","annotations":{"idempotentHint":"true"}}]})");
  EXPECT_TRUE(hints.IsIdempotentToolCall(CallOf("lookup")));
  EXPECT_FALSE(hints.IsIdempotentToolCall(CallOf("deploy")));
  EXPECT_FALSE(hints.IsIdempotentToolCall(CallOf("echo")));
  EXPECT_FALSE(hints.IsIdempotentToolCall(CallOf("odd")));
  EXPECT_EQ(hints.size(), 1u);
}

TEST(ToolHintsTest, OnlyToolsCallRequestsQualify) {
  ToolHints hints;
  hints.Learn(
      R"({"tools":[{"name":"x","annotations":{"idempotentHint":true}}]})");
  EXPECT_TRUE(hints.IsIdempotentToolCall(CallOf("x")));
  EXPECT_FALSE(hints.IsIdempotentToolCall(
      R"({"jsonrpc":"2.0","id":1,"method":"custom/run","params":{"name":"x"}})"));
  EXPECT_FALSE(hints.IsIdempotentToolCall(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}})"));
  EXPECT_FALSE(hints.IsIdempotentToolCall("garbage"));
}

TEST(ToolHintsTest, ALaterListingWithoutTheHintForgetsIt) {
  ToolHints hints;
  hints.Learn(
      R"({"tools":[{"name":"x","annotations":{"idempotentHint":true}}]})");
  // Another page: x is not on it, so it stays.
  hints.Learn(R"({"tools":[{"name":"y"}],"nextCursor":"2"})");
  EXPECT_TRUE(hints.IsIdempotentToolCall(CallOf("x")));
  // x listed again, its definition changed.
  hints.Learn(R"({"tools":[{"name":"x"}]})");
  EXPECT_FALSE(hints.IsIdempotentToolCall(CallOf("x")));
  hints.Learn("not json");
  hints.Learn(R"({"tools":"none"})");
  EXPECT_EQ(hints.size(), 0u);
}

TEST(ToolHintsTest, MemoryIsBounded) {
  ToolHints hints;
  std::string tools;
  for (size_t i = 0; i < ToolHints::kMaxTools + 10; ++i) {
    absl::StrAppend(&tools, i == 0 ? "" : ",", R"({"name":"t)", i,
                    R"(","annotations":{"idempotentHint":true}})");
  }
  hints.Learn(absl::StrCat(R"({"tools":[)", tools, "]}"));
  EXPECT_EQ(hints.size(), ToolHints::kMaxTools);
}

}  // namespace
}  // namespace shadowcat
