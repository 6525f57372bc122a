#include "core/common/watermark_queue.h"

#include <string>

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(WatermarkQueueTest, SaysPauseAtTheHighWatermarkAndNeverRefuses) {
  WatermarkQueue<std::string> queue(/*high_bytes=*/100, /*low_bytes=*/50);
  EXPECT_FALSE(queue.Push("a", 60));
  EXPECT_TRUE(queue.Push("b", 40));  // exactly at the mark
  // A producer that had more in hand may still hand it over.
  EXPECT_TRUE(queue.Push("c", 1000));
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.bytes(), 1100u);
}

TEST(WatermarkQueueTest, PopsInOrderAndReachesTheLowWatermark) {
  WatermarkQueue<std::string> queue(100, 50);
  queue.Push("a", 60);
  queue.Push("b", 40);
  EXPECT_FALSE(queue.at_or_below_low());
  EXPECT_EQ(queue.Pop(), "a");
  EXPECT_TRUE(queue.at_or_below_low());
  EXPECT_FALSE(queue.above_high());
  EXPECT_EQ(queue.Pop(), "b");
  EXPECT_EQ(queue.Pop(), std::nullopt);
  EXPECT_EQ(queue.bytes(), 0u);
}

TEST(WatermarkQueueTest, AMessageLargerThanTheQueuePassesAlone) {
  WatermarkQueue<std::string> queue(10, 5);
  EXPECT_TRUE(queue.Push(std::string(1000, 'x'), 1000));
  EXPECT_EQ(queue.Pop()->size(), 1000u);
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.above_high());
}

TEST(WatermarkQueueTest, LowAboveHighIsClampedAndClearEmpties) {
  WatermarkQueue<int> queue(10, 20);
  EXPECT_EQ(queue.low_bytes(), 10u);
  queue.Push(1, 5);
  queue.Clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.bytes(), 0u);
}

}  // namespace
}  // namespace shadowcat
