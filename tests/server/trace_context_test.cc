#include "server/trace_context.h"

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

constexpr char kValid[] =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, Traceparent) {
  EXPECT_TRUE(IsValidTraceparent(kValid));
  // A later version may append fields after a '-'.
  EXPECT_TRUE(IsValidTraceparent(
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX: y",
       }) {
    EXPECT_FALSE(IsValidTraceparent(bad)) << bad;
  }
}

TEST(TraceContextTest, Tracestate) {
  EXPECT_TRUE(IsValidTracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_TRUE(IsValidTracestate("tenant@vendor=v, ,b=1"));
  for (const char* bad : {"", "novalue", "Upper=1", "a=b=c", "a=", "a=b\tc",
                          "@x=1", "a=\x01", "a=1\r\nX: y"}) {
    EXPECT_FALSE(IsValidTracestate(bad)) << bad;
  }
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_FALSE(IsValidTracestate(many));
  EXPECT_FALSE(IsValidTracestate("a=" + std::string(600, 'x')));
}

TEST(TraceContextTest, HeadersNeedAValidTraceparent) {
  HeaderList both = TraceContextHeaders(kValid, "rojo=1");
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0],
            (std::pair<std::string, std::string>{"traceparent", kValid}));
  EXPECT_EQ(both[1],
            (std::pair<std::string, std::string>{"tracestate", "rojo=1"}));
  EXPECT_EQ(TraceContextHeaders(kValid, "BAD").size(), 1u);
  EXPECT_TRUE(TraceContextHeaders("junk", "rojo=1").empty());
}

}  // namespace
}  // namespace shadowcat
