// The subscriptions/listen filter asked for, from a server's capabilities
// (2026-07-28 patterns/subscriptions: only requested types are sent).

#include "core/session/listen_filter.h"

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(ListenFilterTest, AsksForEveryAdvertisedListChange) {
  EXPECT_EQ(
      ListenFilterFor(
          R"({"tools":{"listChanged":true},"prompts":{"listChanged":true},)"
          R"("resources":{"subscribe":true,"listChanged":true}})"),
      R"({"toolsListChanged":true,"promptsListChanged":true,)"
      R"("resourcesListChanged":true})");
  EXPECT_EQ(ListenFilterFor(R"({"resources":{"listChanged":true},"tools":{}})"),
            R"({"resourcesListChanged":true})");
}

TEST(ListenFilterTest, NothingAdvertisedMeansNoFilter) {
  EXPECT_EQ(ListenFilterFor(R"({"tools":{},"prompts":{"listChanged":false}})"),
            "");
  EXPECT_EQ(ListenFilterFor(R"({"tools":{"listChanged":"true"}})"), "");
  EXPECT_EQ(ListenFilterFor("{}"), "");
  EXPECT_EQ(ListenFilterFor(""), "");
  EXPECT_EQ(ListenFilterFor("[1]"), "");
}

TEST(ListenFilterTest, AnAcknowledgedFilterHonoursSomethingOrNothing) {
  EXPECT_FALSE(IsEmptyListenFilter(R"({"toolsListChanged":true})"));
  EXPECT_FALSE(
      IsEmptyListenFilter(R"({"resourceSubscriptions":["file:///a"]})"));
  EXPECT_TRUE(IsEmptyListenFilter("{}"));
  EXPECT_TRUE(IsEmptyListenFilter(R"({"toolsListChanged":false})"));
  EXPECT_TRUE(IsEmptyListenFilter(R"({"resourceSubscriptions":[]})"));
  EXPECT_TRUE(IsEmptyListenFilter("not json"));
}

}  // namespace
}  // namespace shadowcat
