#include "core/jsonrpc/json_scan.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;

std::string Nested(int depth, const std::string& inner) {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

// --- ValidateJson: documents that must pass ----------------------------------

class ValidJsonTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidJsonTest, Accepted) {
  EXPECT_TRUE(ValidateJson(GetParam()).ok())
      << ValidateJson(GetParam()).message();
}

INSTANTIATE_TEST_SUITE_P(
    Documents, ValidJsonTest,
    ::testing::Values(
        // Numbers.
        "0", "-0", "1", "-1", "1.5", "-0.0", "0.5e1", "1e400", "-1E-400",
        "1.0e+10", "2E-0", "12345678901234567890123",
        "-98765432109876543210.123456789e-99999",
        // Literals.
        "true", "false", "null",
        // Strings.
        R"("")", R"("abc")", R"("\"\\\/\b\f\n\r\t")", R"("\u0000")",
        R"("\u00e9\u00E9")", R"("\uD83D\uDE00")", R"("\udbff\udfff")",
        "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"",  // é € 😀 raw
        "\"\xF4\x8F\xBF\xBF\"",                      // U+10FFFF
        "\"\xEF\xBF\xBF\"",                          // U+FFFF
        "\"\x7F\"",                                  // DEL needs no escape
        R"("a/b")",
        // Containers and whitespace.
        "[]", "{}", "[ ]", "{ }", "[1,2,3]", R"({"a":1,"a":2})",
        " \t\n\r{\"a\" : [ 1 , {\"b\":null} ] } \n", R"({"":{"":[[],{}]}})",
        R"([true,false,null,"x",-1.5e3,{"k":"v"}])",
        // Exactly the default depth limit.
        Nested(64, "1"), Nested(64, "")));

// --- ValidateJson: documents that must fail, and where --------------------

struct InvalidCase {
  std::string name;
  std::string text;
  std::string message;  // Expected substring, usually "at byte N: ...".
};

class InvalidJsonTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidJsonTest, RejectedWithOffset) {
  const absl::Status status = ValidateJson(GetParam().text);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Documents, InvalidJsonTest,
    ::testing::ValuesIn(std::vector<InvalidCase>{
        {"Empty", "", "at byte 0: unexpected end of input"},
        {"OnlyWhitespace", " \n ", "at byte 3: unexpected end of input"},
        {"LeadingZero", "01", "at byte 1: leading zeros"},
        {"NegativeLeadingZero", "-01", "at byte 2: leading zeros"},
        {"LeadingZeroInArray", "[00]", "at byte 2: leading zeros"},
        {"LoneMinus", "-", "at byte 1: expected a digit"},
        {"MinusLetter", "-a", "at byte 1: expected a digit"},
        {"PlusSign", "+1", "at byte 0: unexpected '+'"},
        {"BareFraction", ".5", "at byte 0: unexpected '.'"},
        {"DotWithoutDigits", "1.", "at byte 2: expected a digit after '.'"},
        {"DotThenExponent", "1.e5", "at byte 2: expected a digit after '.'"},
        {"EmptyExponent", "1e", "at byte 2: expected a digit in the exponent"},
        {"SignedEmptyExponent", "1e+", "at byte 3: expected a digit"},
        {"Hex", "0x10", "at byte 1: unexpected 'x' after the value"},
        {"NaN", "NaN", "at byte 0: unexpected 'N'"},
        {"Infinity", "-Infinity", "at byte 1: expected a digit"},
        {"ArrayTrailingComma", "[1,]", "at byte 3: trailing comma"},
        {"ObjectTrailingComma", R"({"a":1,})", "at byte 7: trailing comma"},
        {"ObjectOnlyComma", "{,}", "at byte 1: unexpected ','"},
        {"ArrayLeadingComma", "[,1]", "at byte 1: unexpected ','"},
        {"ArrayDoubleComma", "[1,,2]", "at byte 3: unexpected ','"},
        {"MissingColon", R"({"a" 1})", "at byte 5: expected ':'"},
        {"MissingValue", R"({"a":})", "at byte 5: unexpected '}'"},
        {"NumberKey", "{1:2}", "at byte 1: unexpected '1'"},
        {"SingleQuotes", "{'a':1}", "at byte 1: unexpected '''"},
        {"MissingArrayComma", "[1 2]", "at byte 3: unexpected '2'"},
        {"MissingObjectComma", R"({"a":1 "b":2})",
         "at byte 7: unexpected '\"'"},
        {"MismatchedClose", "[1}", "at byte 2: unexpected '}'"},
        {"LineComment", "// c\n1", "at byte 0: unexpected '/'"},
        {"BlockComment", "[1/* c */]", "at byte 2: unexpected '/'"},
        {"TrailingValue", "1 2", "at byte 2: unexpected '2' after the value"},
        {"TrailingGarbage", "{} x", "at byte 3: unexpected 'x'"},
        {"TrailingClose", "[]]", "at byte 2: unexpected ']'"},
        {"TrailingNul", std::string("1\0", 2),
         "at byte 1: unexpected byte 0x00"},
        {"Utf8Bom", "\xEF\xBB\xBF{}", "at byte 0: unexpected byte 0xEF"},
        {"TruncatedTrue", "tru", "at byte 0: invalid literal"},
        {"TruncatedNull", "[nul]", "at byte 1: invalid literal"},
        {"CapitalTrue", "True", "at byte 0: unexpected 'T'"},
        {"LongerLiteral", "falsey", "at byte 5: unexpected 'y'"},
        {"UnterminatedString", R"("abc)", "at byte 0: unterminated string"},
        {"UnterminatedKey", R"({"a)", "at byte 1: unterminated string"},
        {"UnterminatedEscape", R"("\)", "at byte 1: unterminated escape"},
        {"BadEscape", R"("\x41")", "at byte 1: invalid escape"},
        {"UpperEscape", R"("\N")", "at byte 1: invalid escape"},
        {"ShortUnicodeEscape", R"("\u12")", "at byte 1: \\u must be followed"},
        {"NonHexUnicodeEscape", R"("\u12G4")", "at byte 1: \\u must be"},
        {"LoneHighSurrogate", R"("\uD800")", "at byte 1: unpaired high"},
        {"HighSurrogateAtEnd", R"("\uD800)", "at byte 1: unpaired high"},
        {"HighThenLetter", R"("\uD800\u0041")", "at byte 1: unpaired high"},
        {"HighThenHigh", R"("\uD800\uD800")", "at byte 1: unpaired high"},
        {"HighThenEscape", R"("\uD800\n")", "at byte 1: unpaired high"},
        {"HighThenBadHex", R"("\uD800\uZZZZ")", "at byte 7: \\u must be"},
        {"LoneLowSurrogate", R"("x\uDC00")", "at byte 2: unpaired low"},
        {"ReversedPair", R"("\uDE00\uD83D")", "at byte 1: unpaired low"},
        {"RawControlChar", "\"a\x01\"", "at byte 2: control character 0x01"},
        {"RawTab", "\"\t\"", "at byte 1: control character 0x09"},
        {"RawNewline", "[\"\n\"]", "at byte 2: control character 0x0A"},
        {"RawNul", std::string("\"\0\"", 3), "at byte 1: control character"},
        {"OverlongSlash", "\"\xC0\xAF\"", "at byte 1: invalid UTF-8"},
        {"OverlongThreeByte", "\"\xE0\x80\xAF\"", "at byte 1: invalid UTF-8"},
        {"OverlongFourByte", "\"\xF0\x8F\xBF\xBF\"",
         "at byte 1: invalid UTF-8"},
        {"EncodedSurrogate", "\"\xED\xA0\x80\"", "at byte 1: invalid UTF-8"},
        {"AboveMaxCodePoint", "\"\xF4\x90\x80\x80\"", "at byte 1: invalid"},
        {"ByteFF", "\"ab\xFF\"", "at byte 3: invalid UTF-8"},
        {"LoneContinuation", "\"\x80\"", "at byte 1: invalid UTF-8"},
        {"TruncatedSequence", "\"\xE2\x82\"", "at byte 1: invalid UTF-8"},
        {"SequenceCutByEnd", "\"\xF0\x9F\x98", "at byte 1: invalid UTF-8"},
        {"InvalidUtf8InKey", "{\"\xC3\":1}", "at byte 2: invalid UTF-8"},
        {"OpenArray", "[", "at byte 1: unexpected end of input"},
        {"OpenObject", "{", "at byte 1: unexpected end of input"},
        {"ArrayMissingClose", "[1", "at byte 2: unexpected end of input"},
        {"ObjectMissingValue", R"({"a":)", "at byte 5: unexpected end"},
        {"ObjectMissingColon", R"({"a")", "at byte 4: expected ':'"},
        {"TooDeepArrays", Nested(65, "1"), "at byte 64: nesting deeper"},
        {"TooDeepObjects", R"({"a":)" + Nested(64, "") + "}",
         "at byte 68: nesting deeper"},
    }),
    [](const ::testing::TestParamInfo<InvalidCase>& info) {
      return info.param.name;
    });

TEST(ValidateJsonTest, MaxDepthIsConfigurable) {
  EXPECT_TRUE(ValidateJson("[[1]]", {.max_depth = 2}).ok());
  EXPECT_FALSE(ValidateJson("[[[1]]]", {.max_depth = 2}).ok());
  EXPECT_FALSE(ValidateJson(R"({"a":{}})", {.max_depth = 1}).ok());
  EXPECT_TRUE(ValidateJson("1", {.max_depth = 0}).ok());
  EXPECT_FALSE(ValidateJson("[]", {.max_depth = 0}).ok());
  EXPECT_FALSE(ValidateJson("{}", {.max_depth = -5}).ok());
}

TEST(ValidateJsonTest, VeryDeepNestingNeedsNoStack) {
  // Far deeper than any call stack could take if the scanner recursed.
  const int kDepth = 1'000'000;
  EXPECT_TRUE(ValidateJson(Nested(kDepth, ""), {.max_depth = kDepth}).ok());
  EXPECT_FALSE(
      ValidateJson(Nested(kDepth, ""), {.max_depth = kDepth - 1}).ok());
  // The default limit stops it at once.
  EXPECT_THAT(ValidateJson(Nested(kDepth, "")).message(),
              HasSubstr("at byte 64: nesting deeper"));
}

// --- ScanObject --------------------------------------------------------------

TEST(ScanObjectTest, KeepsKeyOrderAndDuplicates) {
  auto members = ScanObject(R"({"z":1,"a":2,"m":3,"a":4})");
  ASSERT_TRUE(members.ok()) << members.status();
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (const JsonMember& m : *members) {
    keys.push_back(m.key);
    values.emplace_back(m.raw_value);
  }
  EXPECT_THAT(keys, ::testing::ElementsAre("z", "a", "m", "a"));
  EXPECT_THAT(values, ::testing::ElementsAre("1", "2", "3", "4"));
  EXPECT_EQ(FindMember(*members, "a")->raw_value, "2");
  EXPECT_EQ(FindMember(*members, "missing"), nullptr);
}

TEST(ScanObjectTest, RawValuesAreVerbatimSpans) {
  const std::string text =
      "{\"huge\":1e400,\"big\":12345678901234567890123,\"neg0\":-0,"
      "\"frac\":1.10,\"s\":\"x\\u0041\",\"arr\":[1, 2 ],"
      "\"obj\":{\"k\":[ ]},\"t\":true,\"f\":false,\"nul\":null,"
      "\"sid\":\"1\",\"nid\":1}";
  auto members = ScanObject(text);
  ASSERT_TRUE(members.ok()) << members.status();
  struct Expected {
    std::string key;
    std::string raw;
    JsonType type;
  };
  const std::vector<Expected> expected = {
      {"huge", "1e400", JsonType::kNumber},
      {"big", "12345678901234567890123", JsonType::kNumber},
      {"neg0", "-0", JsonType::kNumber},
      {"frac", "1.10", JsonType::kNumber},
      {"s", R"("x\u0041")", JsonType::kString},
      {"arr", "[1, 2 ]", JsonType::kArray},
      {"obj", R"({"k":[ ]})", JsonType::kObject},
      {"t", "true", JsonType::kBool},
      {"f", "false", JsonType::kBool},
      {"nul", "null", JsonType::kNull},
      {"sid", R"("1")", JsonType::kString},
      {"nid", "1", JsonType::kNumber},
  };
  ASSERT_EQ(members->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].key);
    const JsonMember& m = (*members)[i];
    EXPECT_EQ(m.key, expected[i].key);
    EXPECT_EQ(m.raw_value, expected[i].raw);
    EXPECT_EQ(m.type, expected[i].type);
    // A span into the input, not a copy.
    EXPECT_GE(m.raw_value.data(), text.data());
    EXPECT_LE(m.raw_value.data() + m.raw_value.size(),
              text.data() + text.size());
  }
}

TEST(ScanObjectTest, TrimsWhitespaceAroundValuesAndUnescapesKeys) {
  auto members =
      ScanObject(" \n{ \"a\" :\t[ 1 ]\r\n , \"\\u0041b\\n\" : \"v\" } ");
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].key, "a");
  EXPECT_EQ((*members)[0].raw_value, "[ 1 ]");
  EXPECT_EQ((*members)[1].key, "Ab\n");
  EXPECT_EQ((*members)[1].raw_value, R"("v")");
}

TEST(ScanObjectTest, EmptyObject) {
  auto members = ScanObject(" { } ");
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_TRUE(members->empty());
}

TEST(ScanObjectTest, Rejects) {
  const std::vector<std::string> bad = {
      "",
      "[1]",
      "1",
      R"("{}")",
      "null",
      "{",
      R"({"a":1)",
      R"({"a":1,})",
      R"({"a":[1,]})",
      R"({"a":1} x)",
      R"({"a":1}{})",
      R"({"a" 1})",
      R"({"a":01})",
      "{\"a\":\"\\uD800\"}",
      "{\"\xFF\":1}",
      R"({"a":1 "b":2})",
      "{\"a\":" + Nested(64, "") + "}",
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    auto members = ScanObject(text);
    EXPECT_EQ(members.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ScanObjectTest, DepthCountsTheObjectItself) {
  const std::string at_limit = "{\"a\":" + Nested(63, "") + "}";
  EXPECT_TRUE(ScanObject(at_limit).ok());
  EXPECT_TRUE(ValidateJson(at_limit).ok());
  EXPECT_TRUE(ScanObject(R"({"a":1})", {.max_depth = 1}).ok());
  EXPECT_FALSE(ScanObject(R"({"a":[]})", {.max_depth = 1}).ok());
  EXPECT_FALSE(ScanObject("{}", {.max_depth = 0}).ok());
}

// --- UnescapeJsonString ------------------------------------------------------

TEST(UnescapeJsonStringTest, Decodes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("")", ""},
      {R"("abc")", "abc"},
      {R"("\"\\\/\b\f\n\r\t")", "\"\\/\b\f\n\r\t"},
      {R"("\u0041\u00e9\u20AC")", "A\xC3\xA9\xE2\x82\xAC"},
      {R"("\uD83D\uDE00")", "\xF0\x9F\x98\x80"},
      {R"("\uDBFF\uDFFF")", "\xF4\x8F\xBF\xBF"},
      {R"("\u0000")", std::string("\0", 1)},
      {"\"\xF0\x9F\x98\x80 raw\"", "\xF0\x9F\x98\x80 raw"},
      {R"("a\u0022b")", "a\"b"},
  };
  for (const auto& [raw, expected] : cases) {
    SCOPED_TRACE(raw);
    auto decoded = UnescapeJsonString(raw);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, expected);
  }
}

TEST(UnescapeJsonStringTest, Rejects) {
  const std::vector<std::string> bad = {
      "",
      "abc",
      "\"abc",
      R"( "a")",
      R"("a" )",
      R"("a""b")",
      R"("\uD800")",
      R"("\uDC00")",
      R"("\q")",
      "\"\x01\"",
      "\"\xC0\x80\"",
      "'a'",
      "1",
      R"("\u00")",
      std::string("\"\0\"", 3),
  };
  for (const std::string& raw : bad) {
    SCOPED_TRACE(raw);
    EXPECT_EQ(UnescapeJsonString(raw).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// --- QuoteJsonString ---------------------------------------------------------

TEST(QuoteJsonStringTest, Escapes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", R"("")"},
      {"abc", R"("abc")"},
      {"a\"b\\c/d", R"("a\"b\\c/d")"},
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {std::string("\0\x01\x1F", 3), R"("\u0000\u0001\u001F")"},
      {"\x7F", "\"\x7F\""},
      {"\xC3\xA9\xF0\x9F\x98\x80", "\"\xC3\xA9\xF0\x9F\x98\x80\""},
      // Invalid UTF-8 turns into U+FFFD so that the output stays valid JSON.
      {"a\xFF"
       "b",
       "\"a\xEF\xBF\xBD"
       "b\""},
      {"\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},
      {"\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
  };
  for (const auto& [in, expected] : cases) {
    SCOPED_TRACE(in);
    const std::string quoted = QuoteJsonString(in);
    EXPECT_EQ(quoted, expected);
    EXPECT_TRUE(ValidateJson(quoted).ok());
  }
}

TEST(QuoteJsonStringTest, RoundTripsEveryAsciiByteAndSomeUnicode) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF";
  auto decoded = UnescapeJsonString(QuoteJsonString(all));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, all);
}

// --- IsValidUtf8 -------------------------------------------------------------

TEST(IsValidUtf8Test, Classifies) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF"));
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x28\xA1"));
}

// BA-01: a batch's elements, verbatim and in order.
TEST(ScanArrayTest, ElementsAsRawSpans) {
  absl::StatusOr<std::vector<absl::string_view>> elements =
      ScanArray(R"( [ {"a":[1,2]} ,"s", 1e400,[]] )");
  ASSERT_TRUE(elements.ok()) << elements.status();
  EXPECT_THAT(*elements,
              testing::ElementsAre(R"({"a":[1,2]})", R"("s")", "1e400", "[]"));
  EXPECT_TRUE(ScanArray("[]").ok());
  EXPECT_TRUE(ScanArray("[]")->empty());
  EXPECT_FALSE(ScanArray("[1,]").ok());
  EXPECT_FALSE(ScanArray("{}").ok());
  EXPECT_FALSE(ScanArray("[1] 2").ok());
}

}  // namespace
}  // namespace shadowcat
