// Tests of SseParser against the WHATWG rules in mcp-client-requirements.md §15
// (WS-xx), the MCP priming event (RZ-04) and the per-event byte limit (PX-06).
// Every input goes through Parse(), which also checks that all 2-way splits and
// 1-byte steps of the input give exactly the one-shot result (WS-03, WS-18).

#include "core/sse/sse_parser.h"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace shadowcat {

void PrintTo(const SseEvent& event, std::ostream* os) {
  *os << "{type=\"" << absl::CEscape(event.type) << "\" data=\""
      << absl::CEscape(event.data) << "\" id=\"" << absl::CEscape(event.id)
      << "\"}";
}

namespace {

// Everything a parse can be observed by.
struct ParseResult {
  std::vector<SseEvent> events;
  std::string last_event_id;
  std::optional<int64_t> retry_ms;
  uint64_t events_dropped = 0;
  uint64_t comments_seen = 0;
  bool resource_exhausted = false;  // some Feed() returned ResourceExhausted
  size_t discarded_at_finish = 0;

  friend bool operator==(const ParseResult&, const ParseResult&) = default;
};

void PrintTo(const ParseResult& r, std::ostream* os) {
  *os << "{events=[";
  for (const SseEvent& e : r.events) {
    PrintTo(e, os);
    *os << " ";
  }
  *os << "] last_event_id=\"" << absl::CEscape(r.last_event_id)
      << "\" retry_ms=" << (r.retry_ms ? absl::StrCat(*r.retry_ms) : "none")
      << " dropped=" << r.events_dropped << " comments=" << r.comments_seen
      << " exhausted=" << r.resource_exhausted
      << " discarded=" << r.discarded_at_finish << "}";
}

ParseResult ParseChunks(const std::vector<absl::string_view>& chunks,
                        SseParserOptions options) {
  SseParser parser(options);
  ParseResult result;
  for (absl::string_view chunk : chunks) {
    absl::Status status = parser.Feed(
        chunk, [&](const SseEvent& e) { result.events.push_back(e); });
    if (absl::IsResourceExhausted(status)) {
      result.resource_exhausted = true;
    } else {
      EXPECT_TRUE(status.ok()) << status;
    }
  }
  result.discarded_at_finish = parser.Finish();
  result.last_event_id = parser.last_event_id();
  result.retry_ms = parser.retry_ms();
  result.events_dropped = parser.events_dropped();
  result.comments_seen = parser.comments_seen();
  return result;
}

// Parses `input` in one shot, and checks that every 2-way split and 1-byte
// steps give the same result.
ParseResult Parse(absl::string_view input, SseParserOptions options = {}) {
  const ParseResult whole = ParseChunks({input}, options);
  for (size_t i = 0; i <= input.size(); ++i) {
    const ParseResult split =
        ParseChunks({input.substr(0, i), input.substr(i)}, options);
    if (split != whole) {
      ADD_FAILURE() << "split at " << i << " of \"" << absl::CEscape(input)
                    << "\" gives " << testing::PrintToString(split)
                    << " instead of " << testing::PrintToString(whole);
      break;
    }
  }
  std::vector<absl::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  const ParseResult stepped = ParseChunks(bytes, options);
  EXPECT_EQ(stepped, whole)
      << "1-byte steps of \"" << absl::CEscape(input) << "\"";
  return whole;
}

SseEvent Event(absl::string_view data, absl::string_view id = "",
               absl::string_view type = "message") {
  return SseEvent{std::string(type), std::string(data), std::string(id)};
}

std::vector<SseEvent> Events(absl::string_view input) {
  return Parse(input).events;
}

using Evs = std::vector<SseEvent>;

// --- WS-01: bytes are not transcoded
// --------------------------------------------------

TEST(SseParserTest, WS01_InvalidUtf8PassedThroughUnchanged) {
  // The parser is byte-oriented; the JSON layer rejects invalid UTF-8 (SH-08).
  EXPECT_EQ(Events("data: \xff\xfe\xc3(\x80\n\n"),
            Evs{Event("\xff\xfe\xc3(\x80")});
  EXPECT_EQ(Events("data: caf\xc3\xa9 \xe2\x82\xac\n\n"),
            Evs{Event("caf\xc3\xa9 \xe2\x82\xac")});
}

TEST(SseParserTest, WS01_NulBytesInDataKept) {
  EXPECT_EQ(Events(absl::string_view("data: a\0b\n\n", 11)),
            Evs{Event(absl::string_view("a\0b", 3))});
}

// --- WS-02: one leading BOM
// ------------------------------------------------------------

TEST(SseParserTest, WS02_LeadingBomStripped) {
  // Parse() also feeds the three BOM bytes split across chunks.
  EXPECT_EQ(Events("\xEF\xBB\xBF"
                   "data: a\n\n"),
            Evs{Event("a")});
}

TEST(SseParserTest, WS02_SecondBomIsPartOfFieldName) {
  EXPECT_EQ(Events("\xEF\xBB\xBF\xEF\xBB\xBF"
                   "data: a\n\ndata: b\n\n"),
            Evs{Event("b")});
}

TEST(SseParserTest, WS02_BomAfterStartIsData) {
  EXPECT_EQ(Events("data: a\n\n\xEF\xBB\xBF"
                   "data: b\n\ndata: \xEF\xBB\xBF\n\n"),
            (Evs{Event("a"), Event("\xEF\xBB\xBF")}));
}

TEST(SseParserTest, WS02_PartialBomPrefixIsOrdinaryBytes) {
  EXPECT_EQ(Events("\xEF\xBB"
                   "data: a\n\ndata: b\n\n"),
            Evs{Event("b")});
  EXPECT_EQ(Events("\xEF\n"
                   "data: a\n\n"),
            Evs{Event("a")});
  EXPECT_EQ(Events("\xEF\xBB\n\n"
                   "data: a\n\n"),
            Evs{Event("a")});
}

TEST(SseParserTest, WS02_BomOnlyStream) {
  EXPECT_EQ(Parse("\xEF\xBB\xBF").discarded_at_finish, 0u);
  // Bytes held back as a possible BOM are discarded like any unterminated line.
  EXPECT_EQ(Parse("\xEF\xBB").discarded_at_finish, 2u);
}

// --- WS-03: CRLF, LF, lone CR
// ----------------------------------------------------------

TEST(SseParserTest, WS03_LfTerminators) {
  EXPECT_EQ(Events("data: a\ndata: b\n\n"), Evs{Event("a\nb")});
}

TEST(SseParserTest, WS03_CrLfTerminators) {
  // sse-starlette (Python SDK) emits CRLF by default (php-sdk #401).
  EXPECT_EQ(Events("event: x\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n"),
            (Evs{Event("a\nb", "", "x"), Event("c")}));
}

TEST(SseParserTest, WS03_LoneCrTerminators) {
  EXPECT_EQ(Events("data: a\rdata: b\r\rdata: c\r\r"),
            (Evs{Event("a\nb"), Event("c")}));
}

TEST(SseParserTest, WS03_MixedTerminators) {
  EXPECT_EQ(Events("data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\r"),
            (Evs{Event("a\nb\nc"), Event("d")}));
}

TEST(SseParserTest, WS03_CrLfSplitAcrossChunksIsOneTerminator) {
  // If the LF after a chunk-final CR were taken as a second terminator, it
  // would end the event after "a" early (eventsource-parser #17).
  ParseResult r = ParseChunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"}, {});
  EXPECT_EQ(r.events, Evs{Event("a\nb")});
  // Parse() covers the same stream at every split point.
  EXPECT_EQ(Events("data: a\r\ndata: b\r\n\r\n"), Evs{Event("a\nb")});
}

TEST(SseParserTest, WS03_ChunkFinalCrFollowedByOtherByte) {
  ParseResult r = ParseChunks({"data: a\r", "data: b\r", "\r"}, {});
  EXPECT_EQ(r.events, Evs{Event("a\nb")});
}

TEST(SseParserTest, WS03_CrCrLfIsTwoLines) {
  // CR, then CRLF: a line end followed by a blank line.
  EXPECT_EQ(Events("data: a\r\r\ndata: b\n\n"), (Evs{Event("a"), Event("b")}));
}

TEST(SseParserTest, WS03_EmptyChunksChangeNothing) {
  ParseResult r =
      ParseChunks({"", "data: a\r", "", "", "\n", "", "\n", ""}, {});
  EXPECT_EQ(r.events, Evs{Event("a")});
}

// --- WS-04: blank line dispatches
// ------------------------------------------------------

TEST(SseParserTest, WS04_BlankLineDispatches) {
  EXPECT_EQ(Events("data: a\n"), Evs{});
  EXPECT_EQ(Events("data: a\n\n"), Evs{Event("a")});
}

TEST(SseParserTest, WS04_ExtraBlankLinesDispatchNothing) {
  EXPECT_EQ(Events("\n\n\ndata: a\n\n\n\n\ndata: b\n\n\n"),
            (Evs{Event("a"), Event("b")}));
}

TEST(SseParserTest, WS04_EventsInOrder) {
  std::string input;
  Evs expected;
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&input, "data: ", i, "\n\n");
    expected.push_back(Event(absl::StrCat(i)));
  }
  EXPECT_EQ(Events(input), expected);
}

// --- WS-05: comments
// -------------------------------------------------------------------

TEST(SseParserTest, WS05_CommentsIgnoredAndCounted) {
  // SS-09: comments are liveness, so they are counted, never dispatched.
  ParseResult r = Parse(": keepalive\n\n:\n\n:data: x\n\n");
  EXPECT_EQ(r.events, Evs{});
  EXPECT_EQ(r.comments_seen, 3u);
}

TEST(SseParserTest, WS05_CommentDoesNotTouchBuffers) {
  ParseResult r = Parse("event: t\ndata: a\n: note\nid: 1\n:x\ndata: b\n\n");
  EXPECT_EQ(r.events, Evs{Event("a\nb", "1", "t")});
  EXPECT_EQ(r.comments_seen, 2u);
}

TEST(SseParserTest, WS05_CommentWithCrLf) {
  ParseResult r = Parse(":ping\r\n:ping\r\ndata: a\r\n\r\n");
  EXPECT_EQ(r.events, Evs{Event("a")});
  EXPECT_EQ(r.comments_seen, 2u);
}

// --- WS-06: field/value split
// ----------------------------------------------------------

TEST(SseParserTest, WS06_SplitAtFirstColon) {
  EXPECT_EQ(Events("data: {\"a\":\"b:c\"}\n\n"), Evs{Event("{\"a\":\"b:c\"}")});
  EXPECT_EQ(Events("data::\n\n"), Evs{Event(":")});
}

TEST(SseParserTest, WS06_OnlyOneLeadingSpaceStripped) {
  EXPECT_EQ(Events("data:  x\n\n"), Evs{Event(" x")});
  EXPECT_EQ(Events("data:x\n\n"), Evs{Event("x")});
  EXPECT_EQ(Events("data: x \n\n"), Evs{Event("x ")});
  EXPECT_EQ(Events("data: \n\n"), Evs{Event("")});
}

TEST(SseParserTest, WS06_TabNotStripped) {
  EXPECT_EQ(Events("data:\tx\n\n"), Evs{Event("\tx")});
}

TEST(SseParserTest, WS06_SpaceBeforeColonIsPartOfFieldName) {
  EXPECT_EQ(Events("data : x\n\n"), Evs{});
}

// --- WS-07: line without colon
// ---------------------------------------------------------

TEST(SseParserTest, WS07_LineWithoutColonIsFieldWithEmptyValue) {
  EXPECT_EQ(Events("data\n\n"), Evs{Event("")});
  EXPECT_EQ(Events("data\ndata\n\n"), Evs{Event("\n")});
  EXPECT_EQ(Events("data\ndata: x\n\n"), Evs{Event("\nx")});
  EXPECT_EQ(Events("event\ndata: x\n\n"), Evs{Event("x")});
}

// --- WS-08: case-sensitive, unknown fields ignored
// -------------------------------------

TEST(SseParserTest, WS08_FieldNamesCaseSensitive) {
  EXPECT_EQ(Events("Data: a\nDATA: b\n\n"), Evs{});
  EXPECT_EQ(Events("data: a\nEvent: t\nID: 1\nRetry: 5\n\n"), Evs{Event("a")});
  EXPECT_EQ(Parse("Retry: 5\n\n").retry_ms, std::nullopt);
}

TEST(SseParserTest, WS08_UnknownFieldsIgnored) {
  EXPECT_EQ(
      Events("foo: bar\ndata: a\nx\nda: c\ndatas: d\nids: 2\nevents: e\n\n"),
      Evs{Event("a")});
}

// --- WS-09: event type
// -----------------------------------------------------------------

TEST(SseParserTest, WS09_EventSetsType) {
  EXPECT_EQ(Events("event: ping\ndata: a\n\n"), Evs{Event("a", "", "ping")});
  EXPECT_EQ(Events("event: a\nevent: b\ndata: x\n\n"),
            Evs{Event("x", "", "b")});
}

TEST(SseParserTest, WS09_EmptyTypeMeansMessage) {
  EXPECT_EQ(Events("event:\ndata: a\n\n"), Evs{Event("a")});
  EXPECT_EQ(Events("event: x\nevent\ndata: a\n\n"), Evs{Event("a")});
}

TEST(SseParserTest, WS09_TypeClearedAfterDispatch) {
  EXPECT_EQ(Events("event: t\ndata: a\n\ndata: b\n\n"),
            (Evs{Event("a", "", "t"), Event("b")}));
  // Also cleared by a blank line that dispatches nothing (WS-13 step 2).
  EXPECT_EQ(Events("event: ping\n\ndata: b\n\n"), Evs{Event("b")});
}

// --- WS-10: data lines
// -----------------------------------------------------------------

TEST(SseParserTest, WS10_DataLinesJoinedWithLf) {
  EXPECT_EQ(Events("data: a\ndata: b\ndata: c\n\n"), Evs{Event("a\nb\nc")});
}

TEST(SseParserTest, WS10_JsonRpcSplitOverTwoDataLines) {
  EXPECT_EQ(Events("data: {\"jsonrpc\":\"2.0\",\n"
                   "data: \"id\":1,\"result\":{}}\n\n"),
            Evs{Event("{\"jsonrpc\":\"2.0\",\n\"id\":1,\"result\":{}}")});
}

// --- WS-11: id
// -------------------------------------------------------------------------

TEST(SseParserTest, WS11_IdSetsLastEventId) {
  ParseResult r = Parse("id: e1\ndata: a\n\n");
  EXPECT_EQ(r.events, Evs{Event("a", "e1")});
  EXPECT_EQ(r.last_event_id, "e1");
}

TEST(SseParserTest, WS11_IdIsStickyAcrossEvents) {
  ParseResult r = Parse("id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n");
  EXPECT_EQ(r.events, (Evs{Event("a", "7"), Event("b", "7"), Event("c", "8")}));
  EXPECT_EQ(r.last_event_id, "8");
}

TEST(SseParserTest, WS11_IdWithNulIgnoredEntirely) {
  ParseResult r =
      Parse(absl::string_view("id: 1\n\nid: 2\0x\ndata: a\n\n", 24));
  EXPECT_EQ(r.events, Evs{Event("a", "1")});
  EXPECT_EQ(r.last_event_id, "1");
}

TEST(SseParserTest, WS11_EmptyIdResetsLastEventId) {
  ParseResult r = Parse("id: 1\ndata: a\n\nid:\ndata: b\n\n");
  EXPECT_EQ(r.events, (Evs{Event("a", "1"), Event("b", "")}));
  EXPECT_EQ(r.last_event_id, "");
  EXPECT_EQ(Parse("id: 1\n\nid\n\n").last_event_id, "");
}

TEST(SseParserTest, WS11_IdValueIsOpaque) {
  // RZ-08: ids are opaque strings; keep them byte for byte.
  const std::string long_id(1000, 'z');
  EXPECT_EQ(Parse("id: s3:17 \t\ndata: a\n\n").last_event_id, "s3:17 \t");
  EXPECT_EQ(Parse(absl::StrCat("id: ", long_id, "\n\n")).last_event_id,
            long_id);
  EXPECT_EQ(Parse("id:  x\n\n").last_event_id, " x");
}

// --- WS-12: retry
// ----------------------------------------------------------------------

TEST(SseParserTest, WS12_RetryAllDigits) {
  EXPECT_EQ(Parse("retry: 2000\n").retry_ms, 2000);
  EXPECT_EQ(Parse("retry:0\n").retry_ms, 0);
  EXPECT_EQ(Parse("retry: 007\n").retry_ms, 7);
  EXPECT_EQ(Parse("retry: 10\nretry: 20\n\n").retry_ms, 20);
}

TEST(SseParserTest, WS12_BogusRetryIgnoredAndKeepsPrevious) {
  for (absl::string_view bogus : {"1.5", "-1", "+1", "abc", "", " 5", "5 ",
                                  "1e3", "12a", "0x10", "\xd9\xa1"}) {
    SCOPED_TRACE(absl::CEscape(bogus));
    EXPECT_EQ(Parse(absl::StrCat("retry: ", bogus, "\n")).retry_ms,
              std::nullopt);
    EXPECT_EQ(
        Parse(absl::StrCat("retry: 300\nretry: ", bogus, "\n\n")).retry_ms,
        300);
  }
  EXPECT_EQ(Parse("retry\n").retry_ms, std::nullopt);
}

TEST(SseParserTest, WS12_HugeRetryClamped) {
  EXPECT_EQ(Parse("retry: 99999999999999999999\n").retry_ms,
            SseParser::kMaxRetryMs);
  EXPECT_EQ(
      Parse(absl::StrCat("retry: ", std::string(5000, '9'), "\n")).retry_ms,
      SseParser::kMaxRetryMs);
  EXPECT_EQ(Parse("retry: 86400000\n").retry_ms, 86400000);
  EXPECT_EQ(Parse("retry: 86400001\n").retry_ms, SseParser::kMaxRetryMs);
  EXPECT_EQ(Parse("retry: 000000000000000000000000001\n").retry_ms, 1);
}

TEST(SseParserTest, WS12_RetryAppliesWithoutDispatch) {
  // RZ-06: a server may send retry and close; the value must survive an
  // unterminated tail.
  EXPECT_EQ(Parse("data: a\n\nretry: 1500\n").retry_ms, 1500);
}

// --- WS-13: dispatch
// -------------------------------------------------------------------

TEST(SseParserTest, WS13_IdWithoutDataUpdatesCursorButDispatchesNothing) {
  ParseResult r = Parse("id: 5\n\n");
  EXPECT_EQ(r.events, Evs{});
  EXPECT_EQ(r.last_event_id, "5");
}

TEST(SseParserTest, WS13_IdWithoutBlankLineIsNotTheCursorYet) {
  SseParser parser;
  int events = 0;
  ASSERT_TRUE(
      parser
          .Feed("id: 1\n\nid: 2\ndata: a\n", [&](const SseEvent&) { ++events; })
          .ok());
  EXPECT_EQ(parser.last_event_id(), "1");
  ASSERT_TRUE(parser.Feed("\n", [&](const SseEvent&) { ++events; }).ok());
  EXPECT_EQ(parser.last_event_id(), "2");
  EXPECT_EQ(events, 1);
}

// SS-06: a replay repeats the cursor's own id, which the sticky SseEvent::id
// cannot tell from an event without one; event_has_id() can, during on_event.
TEST(SseParserTest, SS06_EventHasIdTellsAnOwnIdFromAStickyOne) {
  SseParser parser;
  std::vector<std::pair<std::string, bool>> seen;
  auto collect = [&](const SseEvent& e) {
    seen.emplace_back(e.id, parser.event_has_id());
  };
  ASSERT_TRUE(parser.Feed("id: 4\ndata: a\n\ndata: b\n\n", collect).ok());
  parser.Finish();  // a reconnect: the next response
  std::string next =
      "id: 4\ndata: a\n\ndata: c\n\nid: 5\n\ndata: d\n\nid\ndata: e\n\nid: x";
  next.push_back('\0');
  next += "y\ndata: f\n\n";
  ASSERT_TRUE(parser.Feed(next, collect).ok());
  const std::vector<std::pair<std::string, bool>> expected = {
      {"4", true},  {"4", false},  // own id, then sticky
      {"4", true},  {"4", false},  // the replayed "4" has it again
      {"5", false},                // set by an id-only block before it
      {"", true},                  // an empty id field is still a field
      {"", false}};                // an id with NUL is ignored entirely
  EXPECT_EQ(seen, expected);
}

TEST(SseParserTest, WS13_OneTrailingLfStripped) {
  EXPECT_EQ(Events("data:\ndata:\n\n"), Evs{Event("\n")});
  EXPECT_EQ(Events("data: a\ndata:\n\n"), Evs{Event("a\n")});
}

TEST(SseParserTest, WS13_BuffersClearedAfterDispatch) {
  EXPECT_EQ(Events("event: t\ndata: a\n\n\n\ndata: b\n\n"),
            (Evs{Event("a", "", "t"), Event("b")}));
}

// --- RZ-04: the MCP priming event
// ------------------------------------------------------

TEST(SseParserTest, RZ04_PrimingEventHasEmptyDataAndId) {
  ParseResult r = Parse("id: 1\ndata:\n\n");
  EXPECT_EQ(r.events, Evs{Event("", "1")});
  EXPECT_EQ(r.last_event_id, "1");
}

TEST(SseParserTest, RZ04_PrimingThenResponseCarriesCursor) {
  ParseResult r = Parse(
      "id: p1\nretry: 2000\ndata:\n\n"
      "id: p2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1}\n\n");
  EXPECT_EQ(r.events, (Evs{Event("", "p1"),
                           Event("{\"jsonrpc\":\"2.0\",\"id\":1}", "p2")}));
  EXPECT_EQ(r.retry_ms, 2000);
  EXPECT_EQ(r.last_event_id, "p2");
}

// --- WS-14: end of stream
// --------------------------------------------------------------

TEST(SseParserTest, WS14_UnterminatedEventDiscarded) {
  ParseResult r = Parse("data: a\n\nid: 2\ndata: b\n");
  EXPECT_EQ(r.events, Evs{Event("a")});
  EXPECT_EQ(r.last_event_id, "");
  EXPECT_EQ(r.discarded_at_finish, 14u);
  EXPECT_EQ(Parse("data: a\n\ndata: b").discarded_at_finish, 7u);
}

TEST(SseParserTest, WS14_CleanEndDiscardsNothing) {
  EXPECT_EQ(Parse("data: a\n\n").discarded_at_finish, 0u);
  EXPECT_EQ(Parse("data: a\r\n\r\n").discarded_at_finish, 0u);
  EXPECT_EQ(Parse("data: a\r\r").discarded_at_finish, 0u);
  EXPECT_EQ(Parse("").discarded_at_finish, 0u);
  EXPECT_EQ(Parse("data: a\r\n").discarded_at_finish, 9u);
}

// --- WS-18: a fresh response on the same logical stream
// -------------------------------

TEST(SseParserTest, WS18_FinishResetsResponseStateKeepsCursor) {
  SseParser parser;
  Evs events;
  auto collect = [&](const SseEvent& e) { events.push_back(e); };
  ASSERT_TRUE(
      parser
          .Feed("retry: 50\nid: 1\ndata: a\n\nid: 2\ndata: partial\r", collect)
          .ok());
  EXPECT_EQ(parser.Finish(), 20u);
  // The new response starts with a BOM and an LF that must not pair with the
  // old CR.
  ASSERT_TRUE(parser.Feed("\xEF\xBB\xBF\ndata: b\n\n", collect).ok());
  EXPECT_EQ(events, (Evs{Event("a", "1"), Event("b", "1")}));
  EXPECT_EQ(parser.last_event_id(), "1");
  EXPECT_EQ(parser.retry_ms(), 50);
}

// --- PX-06: per-event byte limit
// -------------------------------------------------------

TEST(SseParserTest, PX06_OversizedEventDroppedNextEventArrives) {
  const std::string big(100, 'x');
  ParseResult r = Parse(absl::StrCat("data: a\n\nid: 9\nevent: t\ndata: ", big,
                                     "\ndata: more\nid: 10\n\ndata: b\n\n"),
                        {.max_event_bytes = 64});
  EXPECT_EQ(r.events, (Evs{Event("a"), Event("b")}));
  EXPECT_EQ(r.events_dropped, 1u);
  EXPECT_TRUE(r.resource_exhausted);
  // The dropped event's ids (before and after the overflow) never become the
  // cursor.
  EXPECT_EQ(r.last_event_id, "");
}

TEST(SseParserTest, PX06_ManySmallDataLinesAddUp) {
  std::string input = "id: 1\ndata: a\n\n";
  for (int i = 0; i < 20; ++i) input += "data: 0123456789\n";
  input += "\ndata: b\n\n";
  ParseResult r = Parse(input, {.max_event_bytes = 100});
  EXPECT_EQ(r.events, (Evs{Event("a", "1"), Event("b", "1")}));
  EXPECT_EQ(r.events_dropped, 1u);
}

TEST(SseParserTest, PX06_ExactlyAtLimitPasses) {
  // "data: " + 10 bytes = a 16-byte line; then 11 bytes of data and a blank
  // line.
  const std::string input = "data: 0123456789\n\n";
  EXPECT_EQ(Parse(input, {.max_event_bytes = 16}).events,
            Evs{Event("0123456789")});
  ParseResult r = Parse(input, {.max_event_bytes = 15});
  EXPECT_EQ(r.events, Evs{});
  EXPECT_EQ(r.events_dropped, 1u);
}

TEST(SseParserTest, PX06_LongCommentOrIdCountsToo) {
  ParseResult r =
      Parse(absl::StrCat(":", std::string(200, 'c'),
                         "\n\nid: ", std::string(200, 'i'), "\n\ndata: ok\n\n"),
            {.max_event_bytes = 64});
  EXPECT_EQ(r.events, Evs{Event("ok")});
  EXPECT_EQ(r.events_dropped, 2u);
  EXPECT_EQ(r.comments_seen, 0u);
}

TEST(SseParserTest, PX06_TwoOversizedEventsInOneChunk) {
  const std::string big(70, 'x');
  ParseResult r = Parse(
      absl::StrCat("data: ", big, "\n\ndata: ", big, "\r\n\r\ndata: c\r\n\r\n"),
      {.max_event_bytes = 64});
  EXPECT_EQ(r.events, Evs{Event("c")});
  EXPECT_EQ(r.events_dropped, 2u);
}

TEST(SseParserTest, PX06_StatusOnlyOnTheChunkThatOverflows) {
  SseParser parser({.max_event_bytes = 16});
  int events = 0;
  auto count = [&](const SseEvent&) { ++events; };
  EXPECT_TRUE(parser.Feed("data: 0123", count).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(parser.Feed("4567890123", count)));
  EXPECT_TRUE(parser.Feed(std::string(1 << 20, 'y'), count).ok());
  EXPECT_TRUE(parser.Feed("\n\ndata: ok\n\n", count).ok());
  EXPECT_EQ(events, 1);
  EXPECT_EQ(parser.events_dropped(), 1u);
}

TEST(SseParserTest, PX06_DroppedTailAtEndOfStream) {
  ParseResult r =
      Parse(absl::StrCat("data: a\n\ndata: ", std::string(100, 'x')),
            {.max_event_bytes = 32});
  EXPECT_EQ(r.events, Evs{Event("a")});
  EXPECT_EQ(r.events_dropped, 1u);
  EXPECT_EQ(r.discarded_at_finish, 106u);
}

TEST(SseParserTest, PX06_ZeroLimitDropsEveryNonBlankEvent) {
  ParseResult r = Parse("data: a\n\n\n:c\n\n", {.max_event_bytes = 0});
  EXPECT_EQ(r.events, Evs{});
  EXPECT_EQ(r.events_dropped, 2u);
}

// --- A realistic MCP stream
// ------------------------------------------------------------

TEST(SseParserTest, McpStreamWithKeepalivesAndCrLf) {
  ParseResult r = Parse(
      "\xEF\xBB\xBF: connected\r\n\r\n"
      "id: 0\r\ndata:\r\n\r\n"
      "event: message\r\nid: 1\r\n"
      "data: "
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\n"
      ": ping\r\n\r\n"
      "id: 2\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\r\n\r\n");
  EXPECT_EQ(
      r.events,
      (Evs{Event("", "0"),
           Event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}",
                 "1"),
           Event("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", "2")}));
  EXPECT_EQ(r.comments_seen, 2u);
  EXPECT_EQ(r.last_event_id, "2");
  EXPECT_EQ(r.discarded_at_finish, 0u);
}

TEST(SseParserTest, LargeEventAcrossManyChunks) {
  const std::string payload(64 * 1024, 'p');
  const std::string input = absl::StrCat("data: ", payload, "\r\n\r\n");
  std::vector<absl::string_view> chunks;
  for (size_t i = 0; i < input.size(); i += 1000) {
    chunks.push_back(absl::string_view(input).substr(i, 1000));
  }
  EXPECT_EQ(ParseChunks(chunks, {}).events, Evs{Event(payload)});
}

}  // namespace
}  // namespace shadowcat
