#include "core/sse/sse_parser.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace shadowcat {
namespace {

constexpr char kBom[] = "\xEF\xBB\xBF";
constexpr uint8_t kBomSize = 3;

// Where `c` first occurs in [p, end), or `end`. memchr is vectorized in glibc,
// which is what makes the line scan fast; a byte loop looking for CR and LF at
// once is not.
const char* FindByte(const char* p, const char* end, char c) {
  // An empty chunk may come with a null pointer, which memchr must not get.
  if (p == end) return end;
  const void* hit = std::memchr(p, c, static_cast<size_t>(end - p));
  return hit == nullptr ? end : static_cast<const char*>(hit);
}

}  // namespace

SseParser::SseParser(SseParserOptions options) : options_(options) {}

absl::Status SseParser::Feed(
    absl::string_view chunk,
    absl::FunctionRef<void(const SseEvent&)> on_event) {
  const uint64_t dropped_before = events_dropped_;
  if (!bom_done_) chunk = ConsumeBom(chunk, on_event);
  ConsumeLines(chunk, on_event);
  if (events_dropped_ == dropped_before) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "SSE event larger than ", options_.max_event_bytes, " bytes dropped (",
      events_dropped_, " dropped on this stream)"));
}

size_t SseParser::Finish() {
  const size_t discarded = tail_bytes_ + (bom_done_ ? 0 : bom_matched_);
  line_.clear();
  data_.clear();
  type_.clear();
  // The discarded event's `id` must not become the cursor of the next response.
  id_buffer_ = last_event_id_;
  event_has_id_ = false;
  bom_matched_ = 0;
  bom_done_ = false;
  pending_cr_ = false;
  dropping_ = false;
  dropping_line_started_ = false;
  tail_bytes_ = 0;
  return discarded;
}

absl::string_view SseParser::ConsumeBom(absl::string_view chunk,
                                        EventCallback on_event) {
  while (bom_matched_ < kBomSize && !chunk.empty()) {
    if (chunk.front() != kBom[bom_matched_]) {
      bom_done_ = true;
      // Not a BOM after all: the bytes held back are ordinary stream bytes.
      if (bom_matched_ > 0) {
        ConsumeLines(absl::string_view(kBom, bom_matched_), on_event);
      }
      return chunk;
    }
    ++bom_matched_;
    chunk.remove_prefix(1);
  }
  if (bom_matched_ == kBomSize) bom_done_ = true;
  return chunk;
}

void SseParser::ConsumeLines(absl::string_view bytes, EventCallback on_event) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  const char* tail_start = p;
  if (pending_cr_ && p != end) {
    pending_cr_ = false;
    if (*p == '\n') {
      ++p;
      // A zero tail means that CR ended a blank line: the LF belongs to the
      // boundary.
      if (tail_bytes_ == 0) tail_start = p;
    }
  }
  // The next CR and LF are searched for once each and remembered, so a chunk
  // without CR costs one memchr pass for CR in total, not one per line.
  const char* next_cr = FindByte(p, end, '\r');
  const char* next_lf = FindByte(p, end, '\n');
  // Just past the last blank line in this chunk, if any.
  const char* boundary = nullptr;
  while (true) {
    if (next_cr < p) next_cr = FindByte(p, end, '\r');
    if (next_lf < p) next_lf = FindByte(p, end, '\n');
    const char* eol = std::min(next_cr, next_lf);
    if (eol == end) break;
    const char* next = eol + 1;
    if (*eol == '\r') {
      if (next == end) {
        pending_cr_ = true;
      } else if (*next == '\n') {
        ++next;
      }
    }
    const bool blank = eol == p && line_.empty() && !dropping_line_started_;
    EndLine(absl::string_view(p, static_cast<size_t>(eol - p)), on_event);
    p = next;
    if (blank) boundary = p;
  }
  if (p != end) {
    ContinueLine(absl::string_view(p, static_cast<size_t>(end - p)));
  }
  tail_bytes_ = boundary == nullptr
                    ? tail_bytes_ + static_cast<size_t>(end - tail_start)
                    : static_cast<size_t>(end - boundary);
}

void SseParser::EndLine(absl::string_view piece, EventCallback on_event) {
  if (dropping_) {
    const bool blank = piece.empty() && !dropping_line_started_;
    dropping_line_started_ = false;
    if (blank) dropping_ = false;
    return;
  }
  if (line_.empty()) {
    if (Exceeds(piece.size())) return DropEvent();
    return ProcessLine(piece, on_event);
  }
  if (Exceeds(line_.size() + piece.size())) return DropEvent();
  line_.append(piece.data(), piece.size());
  ProcessLine(line_, on_event);
  line_.clear();
}

void SseParser::ContinueLine(absl::string_view piece) {
  if (dropping_) {
    dropping_line_started_ = true;
    return;
  }
  // Checking the partial line against the same bound as a whole line keeps the
  // drop decision independent of chunk boundaries: a line whose prefix is too
  // big is too big.
  if (Exceeds(line_.size() + piece.size())) {
    DropEvent();
    dropping_line_started_ = true;
    return;
  }
  line_.append(piece.data(), piece.size());
}

void SseParser::DropEvent() {
  ++events_dropped_;
  dropping_ = true;
  dropping_line_started_ = false;
  line_.clear();
  data_.clear();
  type_.clear();
  id_buffer_ = last_event_id_;
  event_has_id_ = false;
}

void SseParser::ProcessLine(absl::string_view line, EventCallback on_event) {
  if (line.empty()) return Dispatch(on_event);
  if (line.front() == ':') {
    ++comments_seen_;
    return;
  }
  absl::string_view field = line;
  absl::string_view value;
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  // Dispatching on length first keeps the common `data` line to one 4-byte
  // compare.
  switch (field.size()) {
    case 4:
      if (field == "data") {
        data_.append(value.data(), value.size());
        data_.push_back('\n');
      }
      break;
    case 2:
      if (field == "id" && value.find('\0') == absl::string_view::npos) {
        id_buffer_.assign(value.data(), value.size());
        event_has_id_ = true;
      }
      break;
    case 5:
      if (field == "event") {
        type_.assign(value.data(), value.size());
      } else if (field == "retry") {
        ProcessRetry(value);
      }
      break;
    default:
      break;
  }
}

void SseParser::ProcessRetry(absl::string_view value) {
  if (value.empty()) return;
  int64_t ms = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return;
    // Once past the cap the value is only checked for digits: no overflow
    // however long.
    if (ms <= kMaxRetryMs) ms = ms * 10 + (c - '0');
  }
  retry_ms_ = std::min(ms, kMaxRetryMs);
}

void SseParser::Dispatch(EventCallback on_event) {
  last_event_id_ = id_buffer_;
  if (data_.empty()) {
    type_.clear();
    event_has_id_ = false;
    return;
  }
  data_.pop_back();
  // Swapping hands the data buffer's allocation to event_ and takes the
  // previous event's back, so buffers are reused instead of reallocated per
  // event.
  event_.data.swap(data_);
  data_.clear();
  if (type_.empty()) {
    event_.type.assign("message");
  } else {
    event_.type.swap(type_);
    type_.clear();
  }
  event_.id.assign(last_event_id_);
  on_event(event_);
  event_has_id_ = false;
}

}  // namespace shadowcat
