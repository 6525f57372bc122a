#include "core/session/reconnect_policy.h"

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

ReconnectOptions NoJitter() {
  ReconnectOptions options;
  options.base_delay = absl::Milliseconds(100);
  options.max_delay = absl::Milliseconds(1000);
  options.jitter = 0;
  options.max_attempts_without_progress = 3;
  return options;
}

TEST(ReconnectPolicyTest, RZ06_TheServersRetryIsUsedExactly) {
  ReconnectOptions options = NoJitter();
  options.jitter = 0.25;
  ReconnectPolicy policy(options);
  absl::BitGen gen;
  for (int i = 0; i < 3; ++i) {
    policy.OnConnectionEnded(/*made_progress=*/false);
    // No backoff and no jitter stacked on top of the server's value.
    EXPECT_EQ(policy.NextDelay(2000, gen), absl::Milliseconds(2000));
  }
}

TEST(ReconnectPolicyTest, BackoffDoublesPerFruitlessAttemptUpToTheCap) {
  ReconnectPolicy policy(NoJitter());
  absl::BitGen gen;
  policy.OnConnectionEnded(true);
  EXPECT_EQ(policy.NextDelay(std::nullopt, gen), absl::Milliseconds(100));
  policy.OnConnectionEnded(false);
  EXPECT_EQ(policy.NextDelay(std::nullopt, gen), absl::Milliseconds(200));
  policy.OnConnectionEnded(false);
  EXPECT_EQ(policy.NextDelay(std::nullopt, gen), absl::Milliseconds(400));
  ReconnectOptions capped = NoJitter();
  capped.max_attempts_without_progress = 100;
  ReconnectPolicy long_policy(capped);
  for (int i = 0; i < 50; ++i) long_policy.OnConnectionEnded(false);
  EXPECT_EQ(long_policy.NextDelay(std::nullopt, gen), absl::Milliseconds(1000));
}

TEST(ReconnectPolicyTest, JitterStaysWithinItsBand) {
  ReconnectOptions options = NoJitter();
  options.jitter = 0.25;
  ReconnectPolicy policy(options);
  policy.OnConnectionEnded(true);
  absl::BitGen gen;
  for (int i = 0; i < 1000; ++i) {
    absl::Duration d = policy.NextDelay(std::nullopt, gen);
    EXPECT_GE(d, absl::Milliseconds(75));
    EXPECT_LE(d, absl::Milliseconds(125));
  }
}

TEST(ReconnectPolicyTest, RZ10_AttemptsAreBoundedByProgress) {
  ReconnectPolicy policy(NoJitter());  // 3 attempts without progress
  for (int i = 0; i < 3; ++i) {
    policy.OnConnectionEnded(false);
    EXPECT_TRUE(policy.ShouldRetry()) << i;
  }
  policy.OnConnectionEnded(false);
  EXPECT_FALSE(policy.ShouldRetry());

  // A server that closes after every few events (SEP-1699 polling) but makes
  // progress each time is followed indefinitely.
  ReconnectPolicy polling(NoJitter());
  for (int i = 0; i < 100; ++i) {
    polling.OnConnectionEnded(true);
    EXPECT_TRUE(polling.ShouldRetry());
  }
}

// A subscriptions/listen opened afresh by a new Subscribe after the last one
// gave up gets every attempt again.
TEST(ReconnectPolicyTest, ResetStartsOver) {
  ReconnectPolicy policy(NoJitter());
  for (int i = 0; i < 4; ++i) policy.OnConnectionEnded(false);
  ASSERT_FALSE(policy.ShouldRetry());
  policy.Reset();
  EXPECT_TRUE(policy.ShouldRetry());
  absl::BitGen gen;
  EXPECT_EQ(policy.NextDelay(std::nullopt, gen),
            ReconnectPolicy(NoJitter()).NextDelay(std::nullopt, gen));
}

}  // namespace
}  // namespace shadowcat
