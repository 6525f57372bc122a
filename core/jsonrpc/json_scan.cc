#include "core/jsonrpc/json_scan.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"

namespace shadowcat {
namespace {

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Length of the well-formed UTF-8 sequence starting at s[pos], or 0 if there
// is none. The second-byte ranges follow Unicode table 3-7; they are what
// rules out overlong forms, encoded surrogates and code points past U+10FFFF.
size_t Utf8SequenceLength(absl::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 == 0xE0) {
    len = 3;
    lo = 0xA0;
  } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    len = 3;
  } else if (b0 == 0xED) {
    len = 3;
    hi = 0x9F;
  } else if (b0 == 0xF0) {
    len = 4;
    lo = 0x90;
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    len = 4;
  } else if (b0 == 0xF4) {
    len = 4;
    hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() - pos < len) return 0;
  const unsigned char b1 = byte(pos + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    const unsigned char b = byte(pos + i);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Names a byte in an error message; raw bytes are not echoed because the
// message may end up in logs or in a reply to the peer.
std::string DescribeByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7F) {
    return absl::StrCat("'", absl::string_view(&c, 1), "'");
  }
  return absl::StrFormat("byte 0x%02X", u);
}

class Scanner {
 public:
  Scanner(absl::string_view text, int max_depth)
      : text_(text), max_depth_(static_cast<size_t>(std::max(0, max_depth))) {}

  size_t pos() const { return pos_; }
  bool AtEnd() const { return pos_ >= text_.size(); }
  // Only valid when !AtEnd().
  char Peek() const { return text_[pos_]; }
  void Advance() { ++pos_; }

  absl::Status Error(absl::string_view what) const {
    return ErrorAt(pos_, what);
  }
  static absl::Status ErrorAt(size_t offset, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", offset, ": ", what));
  }

  void SkipWhitespace() {
    while (!AtEnd()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  // Fails unless only whitespace remains.
  absl::Status ExpectEnd() {
    SkipWhitespace();
    if (!AtEnd()) {
      return Error(absl::StrCat("unexpected ", DescribeByte(Peek()),
                                " after the value"));
    }
    return absl::OkStatus();
  }

  // Scans one complete value (leading whitespace allowed) inside `depth`
  // already open containers and reports its type. Iterative, with an explicit
  // stack, so hostile nesting cannot exhaust the call stack whatever
  // max_depth is.
  absl::Status ScanValue(size_t depth, JsonType* type) {
    std::vector<bool> open_is_object;  // Innermost last.
    bool first = true;
    while (true) {
      // A value is expected at pos_.
      SkipWhitespace();
      if (AtEnd()) return Error("unexpected end of input, expected a value");
      const char c = Peek();
      JsonType value_type;
      bool opened = false;
      switch (c) {
        case '{':
        case '[': {
          const bool is_object = c == '{';
          value_type = is_object ? JsonType::kObject : JsonType::kArray;
          if (depth + open_is_object.size() >= max_depth_) {
            return Error(
                absl::StrCat("nesting deeper than max_depth ", max_depth_));
          }
          Advance();
          SkipWhitespace();
          if (!AtEnd() && Peek() == (is_object ? '}' : ']')) {
            Advance();  // Empty: already a complete value.
            break;
          }
          open_is_object.push_back(is_object);
          opened = true;
          if (is_object) SC_RETURN_IF_ERROR(ScanMemberName(nullptr));
          break;
        }
        case '"':
          value_type = JsonType::kString;
          SC_RETURN_IF_ERROR(ScanString(nullptr));
          break;
        case 't':
          value_type = JsonType::kBool;
          SC_RETURN_IF_ERROR(ScanLiteral("true"));
          break;
        case 'f':
          value_type = JsonType::kBool;
          SC_RETURN_IF_ERROR(ScanLiteral("false"));
          break;
        case 'n':
          value_type = JsonType::kNull;
          SC_RETURN_IF_ERROR(ScanLiteral("null"));
          break;
        default:
          if (c != '-' && !IsDigit(c)) {
            return Error(absl::StrCat("unexpected ", DescribeByte(c),
                                      ", expected a value"));
          }
          value_type = JsonType::kNumber;
          SC_RETURN_IF_ERROR(ScanNumber());
          break;
      }
      if (first) {
        *type = value_type;
        first = false;
      }
      if (opened) continue;

      // A value just ended: consume separators and the containers it closes.
      while (true) {
        if (open_is_object.empty()) return absl::OkStatus();
        const bool is_object = open_is_object.back();
        const char close = is_object ? '}' : ']';
        SkipWhitespace();
        if (AtEnd()) {
          return Error(is_object ? "unexpected end of input inside an object"
                                 : "unexpected end of input inside an array");
        }
        if (Peek() == close) {
          Advance();
          open_is_object.pop_back();
          continue;
        }
        if (Peek() != ',') {
          return Error(absl::StrCat("unexpected ", DescribeByte(Peek()),
                                    ", expected ',' or '",
                                    std::string(1, close), "'"));
        }
        Advance();
        SkipWhitespace();
        if (!AtEnd() && Peek() == close) return Error("trailing comma");
        if (is_object) SC_RETURN_IF_ERROR(ScanMemberName(nullptr));
        break;
      }
    }
  }

  // Scans `"name" :` (whitespace allowed around the colon); `name` may be
  // null when only validating.
  absl::Status ScanMemberName(std::string* name) {
    SkipWhitespace();
    if (AtEnd()) {
      return Error("unexpected end of input, expected a member name");
    }
    if (Peek() != '"') {
      return Error(absl::StrCat("unexpected ", DescribeByte(Peek()),
                                ", expected a member name string"));
    }
    SC_RETURN_IF_ERROR(ScanString(name));
    SkipWhitespace();
    if (AtEnd() || Peek() != ':') {
      return Error("expected ':' after member name");
    }
    Advance();
    return absl::OkStatus();
  }

  // Scans a string token starting at the opening quote, appending the decoded
  // text to `out` unless it is null.
  absl::Status ScanString(std::string* out) {
    const size_t start = pos_;
    Advance();  // Opening quote.
    while (true) {
      if (AtEnd()) return ErrorAt(start, "unterminated string");
      const auto c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        Advance();
        return absl::OkStatus();
      }
      if (c == '\\') {
        SC_RETURN_IF_ERROR(ScanEscape(out));
        continue;
      }
      if (c < 0x20) {
        return Error(absl::StrFormat(
            "control character 0x%02X in a string must be escaped", c));
      }
      if (c < 0x80) {
        if (out != nullptr) out->push_back(static_cast<char>(c));
        Advance();
        continue;
      }
      const size_t len = Utf8SequenceLength(text_, pos_);
      if (len == 0) return Error("invalid UTF-8 in a string");
      if (out != nullptr) out->append(text_.data() + pos_, len);
      pos_ += len;
    }
  }

 private:
  // Reads four hex digits at text_[at]; false if they are not there.
  bool ReadHex4(size_t at, uint32_t* value) const {
    if (at > text_.size() || text_.size() - at < 4) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      const int h = HexValue(text_[at + i]);
      if (h < 0) return false;
      v = (v << 4) | static_cast<uint32_t>(h);
    }
    *value = v;
    return true;
  }

  absl::Status ScanEscape(std::string* out) {
    const size_t start = pos_;  // At the backslash.
    if (text_.size() - pos_ < 2) return ErrorAt(start, "unterminated escape");
    const char e = text_[pos_ + 1];
    char simple;
    switch (e) {
      case '"':
        simple = '"';
        break;
      case '\\':
        simple = '\\';
        break;
      case '/':
        simple = '/';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'u':
        return ScanUnicodeEscape(out);
      default:
        return ErrorAt(start,
                       absl::StrCat("invalid escape \\", DescribeByte(e)));
    }
    if (out != nullptr) out->push_back(simple);
    pos_ += 2;
    return absl::OkStatus();
  }

  // Scans \uXXXX, or a \uXXXX\uXXXX surrogate pair. A lone surrogate has no
  // UTF-8 encoding, so it is an error rather than something to pass on.
  absl::Status ScanUnicodeEscape(std::string* out) {
    const size_t start = pos_;
    uint32_t cp;
    if (!ReadHex4(pos_ + 2, &cp)) {
      return ErrorAt(start, "\\u must be followed by four hex digits");
    }
    pos_ += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return ErrorAt(start, "unpaired low surrogate");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.size() - pos_ < 2 || text_[pos_] != '\\' ||
          text_[pos_ + 1] != 'u') {
        return ErrorAt(start, "unpaired high surrogate");
      }
      uint32_t low;
      if (!ReadHex4(pos_ + 2, &low)) {
        return Error("\\u must be followed by four hex digits");
      }
      if (low < 0xDC00 || low > 0xDFFF) {
        return ErrorAt(start, "unpaired high surrogate");
      }
      pos_ += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out != nullptr) AppendUtf8(cp, out);
    return absl::OkStatus();
  }

  absl::Status ScanNumber() {
    if (Peek() == '-') Advance();
    if (AtEnd() || !IsDigit(Peek())) return Error("expected a digit");
    if (Peek() == '0') {
      Advance();
      if (!AtEnd() && IsDigit(Peek())) {
        return Error("leading zeros are not allowed");
      }
    } else {
      SkipDigits();
    }
    if (!AtEnd() && Peek() == '.') {
      Advance();
      if (AtEnd() || !IsDigit(Peek())) {
        return Error("expected a digit after '.'");
      }
      SkipDigits();
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      Advance();
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) Advance();
      if (AtEnd() || !IsDigit(Peek())) {
        return Error("expected a digit in the exponent");
      }
      SkipDigits();
    }
    return absl::OkStatus();
  }

  void SkipDigits() {
    while (!AtEnd() && IsDigit(Peek())) Advance();
  }

  absl::Status ScanLiteral(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return Error(absl::StrCat("invalid literal, expected '", word, "'"));
    }
    pos_ += word.size();
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t max_depth_;
  size_t pos_ = 0;
};

}  // namespace

absl::Status ValidateJson(absl::string_view text, JsonScanOptions options) {
  Scanner scanner(text, options.max_depth);
  JsonType type;
  SC_RETURN_IF_ERROR(scanner.ScanValue(0, &type));
  return scanner.ExpectEnd();
}

absl::StatusOr<std::vector<JsonMember>> ScanObject(absl::string_view text,
                                                   JsonScanOptions options) {
  Scanner scanner(text, options.max_depth);
  scanner.SkipWhitespace();
  if (scanner.AtEnd() || scanner.Peek() != '{') {
    return scanner.Error("expected an object");
  }
  if (options.max_depth < 1) {
    return scanner.Error(
        absl::StrCat("nesting deeper than max_depth ", options.max_depth));
  }
  scanner.Advance();
  std::vector<JsonMember> members;
  scanner.SkipWhitespace();
  if (!scanner.AtEnd() && scanner.Peek() == '}') {
    scanner.Advance();
    SC_RETURN_IF_ERROR(scanner.ExpectEnd());
    return members;
  }
  while (true) {
    JsonMember member;
    SC_RETURN_IF_ERROR(scanner.ScanMemberName(&member.key));
    scanner.SkipWhitespace();
    const size_t value_start = scanner.pos();
    SC_RETURN_IF_ERROR(scanner.ScanValue(1, &member.type));
    member.raw_value = text.substr(value_start, scanner.pos() - value_start);
    members.push_back(std::move(member));
    scanner.SkipWhitespace();
    if (scanner.AtEnd()) {
      return scanner.Error("unexpected end of input inside an object");
    }
    if (scanner.Peek() == '}') {
      scanner.Advance();
      break;
    }
    if (scanner.Peek() != ',') {
      return scanner.Error(absl::StrCat("unexpected ",
                                        DescribeByte(scanner.Peek()),
                                        ", expected ',' or '}'"));
    }
    scanner.Advance();
    scanner.SkipWhitespace();
    if (!scanner.AtEnd() && scanner.Peek() == '}') {
      return scanner.Error("trailing comma");
    }
  }
  SC_RETURN_IF_ERROR(scanner.ExpectEnd());
  return members;
}

absl::StatusOr<std::vector<absl::string_view>> ScanArray(
    absl::string_view text, JsonScanOptions options) {
  SC_RETURN_IF_ERROR(ValidateJson(text, options));
  Scanner scanner(text, options.max_depth);
  scanner.SkipWhitespace();
  if (scanner.Peek() != '[') return scanner.Error("expected an array");
  // Valid JSON: what follows is elements, commas and the closing bracket.
  scanner.Advance();
  std::vector<absl::string_view> elements;
  while (true) {
    scanner.SkipWhitespace();
    if (scanner.Peek() == ']') break;
    if (scanner.Peek() == ',') scanner.Advance();
    scanner.SkipWhitespace();
    const size_t start = scanner.pos();
    JsonType type;
    SC_RETURN_IF_ERROR(scanner.ScanValue(1, &type));
    elements.push_back(text.substr(start, scanner.pos() - start));
  }
  return elements;
}

absl::StatusOr<std::string> UnescapeJsonString(
    absl::string_view raw_string_token) {
  Scanner scanner(raw_string_token, 0);
  if (scanner.AtEnd() || scanner.Peek() != '"') {
    return scanner.Error("expected a string token");
  }
  std::string out;
  SC_RETURN_IF_ERROR(scanner.ScanString(&out));
  if (!scanner.AtEnd()) {
    return scanner.Error("unexpected characters after the string token");
  }
  return out;
}

std::string QuoteJsonString(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out.append(kReplacementCharacter);
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04X", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
        break;
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

const JsonMember* FindMember(const std::vector<JsonMember>& members,
                             absl::string_view key) {
  for (const JsonMember& member : members) {
    if (member.key == key) return &member;
  }
  return nullptr;
}

}  // namespace shadowcat
