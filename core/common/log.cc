#include "core/common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"

namespace shadowcat {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> log_format{static_cast<int>(LogFormat::kText)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

// Escapes quotes, backslashes and control characters the way JSON strings
// need; logfmt's quoted values accept the same escapes.
void AppendEscaped(absl::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
}

}  // namespace

void SetMinLogLevel(LogLevel level) {
  min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void SetLogFormat(LogFormat format) {
  log_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", name, "\" is not debug, info, warning or error"));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "text") return LogFormat::kText;
  if (lower == "json") return LogFormat::kJson;
  if (lower == "logfmt") return LogFormat::kLogfmt;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", name, "\" is not text, json or logfmt"));
}

std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          absl::string_view message) {
  const std::string ts =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  std::string line;
  line.reserve(message.size() + 64);
  switch (format) {
    case LogFormat::kJson:
      absl::StrAppend(&line, "{\"ts\":\"", ts, "\",\"level\":\"",
                      LevelName(level), "\",\"msg\":\"");
      AppendEscaped(message, &line);
      line.append("\"}\n");
      break;
    case LogFormat::kLogfmt:
      absl::StrAppend(&line, "ts=", ts, " level=", LevelName(level), " msg=\"");
      AppendEscaped(message, &line);
      line.append("\"\n");
      break;
    case LogFormat::kText:
      absl::StrAppend(&line, ts, " ", absl::AsciiStrToUpper(LevelName(level)),
                      " ");
      AppendEscaped(message, &line);
      line.push_back('\n');
      break;
  }
  return line;
}

void LogLine(LogLevel level, absl::string_view message) {
  const std::string line = FormatLogLine(
      static_cast<LogFormat>(log_format.load(std::memory_order_relaxed)),
      absl::Now(), level, message);
  // One write() per line keeps lines from different threads whole.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace shadowcat
