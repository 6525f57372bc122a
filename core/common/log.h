#ifndef SHADOWCAT_CORE_COMMON_LOG_H_
#define SHADOWCAT_CORE_COMMON_LOG_H_

// A tiny leveled logger to stderr (Abseil 20220623 has no absl/log).
// Thread-safe: each line is written with one call. Never pass secrets (tokens,
// session ids) to it.

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below this level are dropped. Default: kInfo. Safe to call at any time.
void SetMinLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, absl::string_view message);

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
