#include "core/jsonrpc/jsonrpc_message.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/jsonrpc/json_scan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

// True if `span` lies inside `text` (or is empty).
bool Within(absl::string_view span, absl::string_view text) {
  if (span.empty()) return true;
  return span.data() >= text.data() &&
         span.data() + span.size() <= text.data() + text.size();
}

TEST(ParseJsonRpcMessageTest, RequestWithNumberId) {
  const std::string text =
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call",)"
      R"("params":{"name":"add","arguments":{"a":1e400,"b":0.10}}})";
  auto msg = ParseJsonRpcMessage(text);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kRequest);
  EXPECT_EQ(msg->method, "tools/call");
  EXPECT_EQ(msg->id_raw, "7");
  EXPECT_EQ(msg->params_raw,
            R"({"name":"add","arguments":{"a":1e400,"b":0.10}})");
  EXPECT_TRUE(msg->result_raw.empty());
  EXPECT_TRUE(Within(msg->id_raw, text));
  EXPECT_TRUE(Within(msg->params_raw, text));
}

TEST(ParseJsonRpcMessageTest, IdTypeAndSpellingAreKept) {
  const std::vector<std::string> ids = {
      R"("1")", "1",           "1.0",
      "-0",     "1e2",         "12345678901234567890123",
      R"("")",  R"("\u0031")", R"("a\"b")"};
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    const std::string text =
        R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"ping"})";
    auto msg = ParseJsonRpcMessage(text);
    ASSERT_TRUE(msg.ok()) << msg.status();
    EXPECT_EQ(msg->id_raw, id);
    EXPECT_TRUE(Within(msg->id_raw, text));
  }
}

TEST(ParseJsonRpcMessageTest, NotificationWithoutParams) {
  auto msg = ParseJsonRpcMessage(
      R"( {"method":"notifications/initialized","jsonrpc":"2.0"} )");
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kNotification);
  EXPECT_EQ(msg->method, "notifications/initialized");
  EXPECT_TRUE(msg->id_raw.empty());
  EXPECT_TRUE(msg->params_raw.empty());
}

TEST(ParseJsonRpcMessageTest, NotificationWithArrayParamsAndEscapedMethod) {
  auto msg = ParseJsonRpcMessage(
      R"({"jsonrpc":"2\u002e0","method":"a\/b\u00e9","params":[1, "x"]})");
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kNotification);
  EXPECT_EQ(msg->method, "a/b\xC3\xA9");
  EXPECT_EQ(msg->params_raw, R"([1, "x"])");
}

TEST(ParseJsonRpcMessageTest, ResultResponseIsVerbatim) {
  const std::string text =
      R"({"jsonrpc":"2.0","id":"abc","result":{"z":1,"a":[ 12345678901234567890123 ]},"extra":true})";
  auto msg = ParseJsonRpcMessage(text);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kResultResponse);
  EXPECT_EQ(msg->id_raw, R"("abc")");
  EXPECT_EQ(msg->result_raw, R"({"z":1,"a":[ 12345678901234567890123 ]})");
  EXPECT_TRUE(msg->method.empty());
  EXPECT_TRUE(Within(msg->result_raw, text));
}

TEST(ParseJsonRpcMessageTest, NullResultIsAResult) {
  auto msg = ParseJsonRpcMessage(R"({"jsonrpc":"2.0","id":1,"result":null})");
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kResultResponse);
  EXPECT_EQ(msg->result_raw, "null");
}

TEST(ParseJsonRpcMessageTest, ErrorResponse) {
  const std::string text =
      R"({"jsonrpc":"2.0","id":3,"error":{"code":-32601,)"
      R"("message":"Method \"x\" not found","data":{"detail":[1,2]}}})";
  auto msg = ParseJsonRpcMessage(text);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kErrorResponse);
  EXPECT_EQ(msg->id_raw, "3");
  EXPECT_EQ(msg->error_code, -32601);
  EXPECT_EQ(msg->error_message, "Method \"x\" not found");
  EXPECT_EQ(msg->error_data_raw, R"({"detail":[1,2]})");
  EXPECT_TRUE(Within(msg->error_data_raw, text));
}

TEST(ParseJsonRpcMessageTest, ErrorResponseWithNullIdAndNoData) {
  auto msg = ParseJsonRpcMessage(
      R"({"jsonrpc":"2.0","id":null,"error":{"message":"Parse error","code":-32700}})");
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kErrorResponse);
  EXPECT_EQ(msg->id_raw, "null");
  EXPECT_EQ(msg->error_code, -32700);
  EXPECT_EQ(msg->error_message, "Parse error");
  EXPECT_TRUE(msg->error_data_raw.empty());
}

TEST(ParseJsonRpcMessageTest, ErrorCodeInt64Extremes) {
  auto msg = ParseJsonRpcMessage(
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-9223372036854775808,"message":""}})");
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->error_code, INT64_MIN);
}

struct BadMessage {
  std::string name;
  std::string text;
  std::string message;
};

class InvalidJsonRpcTest : public ::testing::TestWithParam<BadMessage> {};

TEST_P(InvalidJsonRpcTest, Rejected) {
  auto msg = ParseJsonRpcMessage(GetParam().text);
  EXPECT_EQ(msg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(msg.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Messages, InvalidJsonRpcTest,
    ::testing::ValuesIn(std::vector<BadMessage>{
        {"Empty", "", "expected an object"},
        {"Batch", R"([{"jsonrpc":"2.0","method":"a"}])", "expected an object"},
        {"Number", "1", "expected an object"},
        {"BrokenJson", R"({"jsonrpc":"2.0","method":"a",})", "trailing comma"},
        {"TrailingGarbage", R"({"jsonrpc":"2.0","method":"a"}x)", "byte 30"},
        {"NoVersion", R"({"method":"a"})", "jsonrpc must be"},
        {"OldVersion", R"({"jsonrpc":"1.0","method":"a"})", "jsonrpc must be"},
        {"NumericVersion", R"({"jsonrpc":2.0,"method":"a"})", "jsonrpc must"},
        {"DuplicateVersion",
         R"({"jsonrpc":"2.0","jsonrpc":"1.0","method":"a"})", "duplicate"},
        {"DuplicateId", R"({"jsonrpc":"2.0","id":1,"id":2,"method":"a"})",
         "duplicate \"id\""},
        {"DuplicateMethod", R"({"jsonrpc":"2.0","method":"a","method":"b"})",
         "duplicate"},
        {"ObjectId", R"({"jsonrpc":"2.0","id":{},"method":"a"})",
         "id must be a string or a number"},
        {"ArrayId", R"({"jsonrpc":"2.0","id":[1],"method":"a"})", "id must"},
        {"BoolId", R"({"jsonrpc":"2.0","id":true,"method":"a"})", "id must"},
        {"NullIdRequest", R"({"jsonrpc":"2.0","id":null,"method":"a"})",
         "must not be null"},
        {"NullIdResult", R"({"jsonrpc":"2.0","id":null,"result":1})",
         "non-null id"},
        {"ResultWithoutId", R"({"jsonrpc":"2.0","result":1})", "non-null id"},
        {"ErrorWithoutId",
         R"({"jsonrpc":"2.0","error":{"code":1,"message":"m"}})",
         "needs an id"},
        {"NumberMethod", R"({"jsonrpc":"2.0","id":1,"method":5})",
         "method must be a string"},
        {"NullMethod", R"({"jsonrpc":"2.0","method":null})", "method must"},
        {"ResultAndError",
         R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}})",
         "both result and error"},
        {"MethodAndResult",
         R"({"jsonrpc":"2.0","id":1,"method":"a","result":1})",
         "method together with result"},
        {"Nothing", R"({"jsonrpc":"2.0","id":1})", "neither"},
        {"StringParams", R"({"jsonrpc":"2.0","method":"a","params":"x"})",
         "params must be an object or an array"},
        {"NullParams", R"({"jsonrpc":"2.0","method":"a","params":null})",
         "params must"},
        {"NumberParams", R"({"jsonrpc":"2.0","method":"a","params":1})",
         "params must"},
        {"ErrorNotObject", R"({"jsonrpc":"2.0","id":1,"error":"boom"})",
         "error must be an object"},
        {"ErrorWithoutCode",
         R"({"jsonrpc":"2.0","id":1,"error":{"message":"m"}})",
         "error.code must be an integer"},
        {"FractionalCode",
         R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}})",
         "error.code"},
        {"ExponentCode",
         R"({"jsonrpc":"2.0","id":1,"error":{"code":1e3,"message":"m"}})",
         "error.code"},
        {"StringCode",
         R"({"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"m"}})",
         "error.code"},
        {"HugeCode",
         R"({"jsonrpc":"2.0","id":1,"error":{"code":9223372036854775808,"message":"m"}})",
         "error.code"},
        {"ErrorWithoutMessage",
         R"({"jsonrpc":"2.0","id":1,"error":{"code":1}})",
         "error.message must be a string"},
        {"NumberMessage",
         R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":2}})",
         "error.message"},
        {"DuplicateCode",
         R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"code":2,"message":"m"}})",
         "duplicate \"code\""},
    }),
    [](const ::testing::TestParamInfo<BadMessage>& info) {
      return info.param.name;
    });

TEST(LooksLikeBatchTest, Classifies) {
  EXPECT_TRUE(LooksLikeBatch("[]"));
  EXPECT_TRUE(LooksLikeBatch(" \r\n\t[{}]"));
  EXPECT_TRUE(LooksLikeBatch("[garbage"));
  EXPECT_FALSE(LooksLikeBatch(""));
  EXPECT_FALSE(LooksLikeBatch("   "));
  EXPECT_FALSE(LooksLikeBatch("{}"));
  EXPECT_FALSE(LooksLikeBatch(" x["));
  EXPECT_FALSE(LooksLikeBatch("\v["));  // Not JSON whitespace.
}

TEST(BuildersTest, ExactOutput) {
  EXPECT_EQ(
      BuildRequest("7", "tools/list", R"({"cursor":"c"})"),
      R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"c"}})");
  EXPECT_EQ(BuildRequest(R"("7")", "ping", ""),
            R"({"jsonrpc":"2.0","id":"7","method":"ping"})");
  EXPECT_EQ(
      BuildNotification("notifications/cancelled", R"({"requestId":7})"),
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}})");
  EXPECT_EQ(BuildNotification("n", ""), R"({"jsonrpc":"2.0","method":"n"})");
  EXPECT_EQ(BuildResultResponse("1", "{}"),
            R"({"jsonrpc":"2.0","id":1,"result":{}})");
  EXPECT_EQ(
      BuildErrorResponse("1", -32601, "no \"x\"", ""),
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no \"x\""}})");
  EXPECT_EQ(
      BuildErrorResponse("", -32700, "Parse error", "[1]"),
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":[1]}})");
}

TEST(BuildersTest, RequestRoundTrip) {
  const std::string id = "12345678901234567890123";
  const std::string method = "x/\"quoted\"\n\xC3\xA9";
  const std::string params = R"({"z":1e400,"a":[-0, "1"]})";
  const std::string text = BuildRequest(id, method, params);
  ASSERT_TRUE(ValidateJson(text).ok()) << text;
  auto msg = ParseJsonRpcMessage(text);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kRequest);
  EXPECT_EQ(msg->id_raw, id);
  EXPECT_EQ(msg->method, method);
  EXPECT_EQ(msg->params_raw, params);
}

TEST(BuildersTest, NotificationRoundTrip) {
  const std::string text =
      BuildNotification("notifications/progress", R"([{"progress":0.5}])");
  auto msg = ParseJsonRpcMessage(text);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kNotification);
  EXPECT_EQ(msg->method, "notifications/progress");
  EXPECT_EQ(msg->params_raw, R"([{"progress":0.5}])");
  EXPECT_TRUE(msg->id_raw.empty());

  const std::string bare_text = BuildNotification("n", "");
  auto bare = ParseJsonRpcMessage(bare_text);
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_TRUE(bare->params_raw.empty());
}

TEST(BuildersTest, ResultRoundTrip) {
  for (const std::string result :
       {"{}", "[]", "null", "0", R"("s")", R"({"b":1,"a":2.50})"}) {
    SCOPED_TRACE(result);
    const std::string text = BuildResultResponse(R"("id-1")", result);
    auto msg = ParseJsonRpcMessage(text);
    ASSERT_TRUE(msg.ok()) << msg.status();
    EXPECT_EQ(msg->kind, JsonRpcKind::kResultResponse);
    EXPECT_EQ(msg->id_raw, R"("id-1")");
    EXPECT_EQ(msg->result_raw, result);
  }
}

TEST(BuildersTest, ErrorRoundTrip) {
  const std::string message = std::string("bad\0\x1F\\ \xF0\x9F\x98\x80", 11);
  const std::string text =
      BuildErrorResponse("42", INT64_MAX, message, R"({"k":[true]})");
  auto msg = ParseJsonRpcMessage(text);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->kind, JsonRpcKind::kErrorResponse);
  EXPECT_EQ(msg->id_raw, "42");
  EXPECT_EQ(msg->error_code, INT64_MAX);
  EXPECT_EQ(msg->error_message, message);
  EXPECT_EQ(msg->error_data_raw, R"({"k":[true]})");

  // The spans point into the text, so it has to outlive the message.
  const std::string null_id_text = BuildErrorResponse("", -1, "m", "");
  auto null_id = ParseJsonRpcMessage(null_id_text);
  ASSERT_TRUE(null_id.ok()) << null_id.status();
  EXPECT_EQ(null_id->id_raw, "null");
  EXPECT_TRUE(null_id->error_data_raw.empty());
}

TEST(BuildersTest, InvalidUtf8MessageStillYieldsValidJson) {
  const std::string text = BuildErrorResponse("1", 1, "bad \xFF byte", "");
  auto msg = ParseJsonRpcMessage(text);
  ASSERT_TRUE(msg.ok()) << msg.status();
  EXPECT_EQ(msg->error_message, "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace shadowcat
