#include "core/session/server_message_feed.h"

#include <string>

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

ServerMessage Message(std::string json) {
  ServerMessage m;
  m.json = std::move(json);
  m.method = "notifications/message";
  return m;
}

TEST(ServerMessageFeedTest, NumbersMessagesFromOne) {
  ServerMessageFeed feed(FeedLimits{});
  EXPECT_EQ(feed.Append(Message("a")).sequence, 1u);
  EXPECT_EQ(feed.Append(Message("b")).sequence, 2u);
  EXPECT_EQ(feed.last_sequence(), 2u);
}

TEST(ServerMessageFeedTest, ReplaysWhatCameAfterASequence) {
  ServerMessageFeed feed(FeedLimits{});
  for (const char* json : {"a", "b", "c"}) feed.Append(Message(json));
  absl::StatusOr<std::vector<ServerMessage>> after = feed.After(1);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].json, "b");
  EXPECT_EQ((*after)[1].sequence, 3u);
  EXPECT_TRUE(feed.After(3)->empty());
  EXPECT_EQ(feed.After(0)->size(), 3u);
}

TEST(ServerMessageFeedTest, EvictsByCountAndBytesAndSaysWhenAGapIsLost) {
  ServerMessageFeed feed(FeedLimits{/*max_messages=*/2, /*max_bytes=*/100});
  for (const char* json : {"a", "b", "c"}) feed.Append(Message(json));
  EXPECT_EQ(feed.buffered(), 2u);
  EXPECT_EQ(feed.After(0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(feed.After(1)->size(), 2u);         // 2 and 3 are still there
  feed.Append(Message(std::string(150, 'x')));  // alone over the byte bound
  EXPECT_EQ(feed.buffered(), 1u);
  EXPECT_EQ(feed.After(3)->size(), 1u);
}

}  // namespace
}  // namespace shadowcat
