#ifndef SHADOWCAT_CORE_COMMON_LOG_H_
#define SHADOWCAT_CORE_COMMON_LOG_H_

// A tiny leveled logger to stderr (Abseil 20220623 has no absl/log), one line
// per record in one of three formats a log pipeline can parse:
//   text:   2026-12-01T19:00:00.123Z INFO session opened
//   json:   {"ts":"2026-12-01T19:00:00.123Z","level":"info","msg":"..."}
//   logfmt: ts=2026-12-01T19:00:00.123Z level=info msg="session opened"
// Messages are escaped in every format, so a value carrying a newline cannot
// forge a second record.
//
// Never pass secrets: header values, tokens, URLs with their query or
// userinfo, session ids in full. core/common/redact.h has the helpers.
//
// Thread-safe: each line is written with one write(2); the settings are
// atomics and may change at any time.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace shadowcat {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText = 0, kJson = 1, kLogfmt = 2 };

// Lines below this level are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);
// Default: kText.
void SetLogFormat(LogFormat format);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, absl::string_view message);

// "debug", "info", "warning" (or "warn"), "error"; InvalidArgument otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
// "text", "json", "logfmt"; InvalidArgument otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

// One record as LogLine writes it, newline included (pure, for tests).
std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          absl::string_view message);

}  // namespace shadowcat

// SC_LOG(kInfo, "opened session ", id) formats only when the level is enabled.
#define SC_LOG(level, ...)                                       \
  do {                                                           \
    if (::shadowcat::LogEnabled(::shadowcat::LogLevel::level)) { \
      ::shadowcat::LogLine(::shadowcat::LogLevel::level,         \
                           ::absl::StrCat(__VA_ARGS__));         \
    }                                                            \
  } while (0)

#endif  // SHADOWCAT_CORE_COMMON_LOG_H_
