#include "core/common/log.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1796151600123);  // 2026-12-01

TEST(LogTest, FormatsEachFormat) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, LogLevel::kInfo, "hello"),
            "2026-12-01T19:00:00.123Z INFO hello\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, kTime, LogLevel::kWarning, "hi"),
            "{\"ts\":\"2026-12-01T19:00:00.123Z\",\"level\":\"warn\","
            "\"msg\":\"hi\"}\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kLogfmt, kTime, LogLevel::kError, "a b"),
            "ts=2026-12-01T19:00:00.123Z level=error msg=\"a b\"\n");
}

TEST(LogTest, MessagesCannotForgeRecordsOrBreakJson) {
  const char* kEvil = "x\"}\n{\"level\":\"error\\\x01";
  for (LogFormat format :
       {LogFormat::kText, LogFormat::kJson, LogFormat::kLogfmt}) {
    std::string line = FormatLogLine(format, kTime, LogLevel::kInfo, kEvil);
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_EQ(line.find('\x01'), std::string::npos) << line;
  }
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, kTime, LogLevel::kInfo, kEvil),
            "{\"ts\":\"2026-12-01T19:00:00.123Z\",\"level\":\"info\","
            "\"msg\":\"x\\\"}\\n{\\\"level\\\":\\\"error\\\\\\u0001\"}\n");
}

TEST(LogTest, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(*ParseLogLevel("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
  EXPECT_EQ(*ParseLogFormat("logfmt"), LogFormat::kLogfmt);
  EXPECT_EQ(*ParseLogFormat("JSON"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

}  // namespace
}  // namespace shadowcat
