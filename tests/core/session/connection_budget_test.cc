#include "core/session/connection_budget.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(ConnectionBudgetTest, PermitsReturnTheirSlot) {
  auto budget = std::make_shared<ConnectionBudget>(2);
  {
    auto a = budget->TryAcquire();
    auto b = budget->TryAcquire();
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(budget->TryAcquire());
    EXPECT_EQ(budget->in_use(), 2u);
  }
  EXPECT_EQ(budget->in_use(), 0u);
  EXPECT_TRUE(budget->TryAcquire());
}

TEST(ConnectionBudgetTest, MovedPermitReleasesOnce) {
  auto budget = std::make_shared<ConnectionBudget>(1);
  std::optional<ConnectionBudget::Permit> outer;
  {
    auto permit = budget->TryAcquire();
    outer.emplace(std::move(*permit));
  }
  EXPECT_EQ(budget->in_use(), 1u);
  outer.reset();
  EXPECT_EQ(budget->in_use(), 0u);
}

TEST(ConnectionBudgetTest, PermitKeepsBudgetAlive) {
  std::optional<ConnectionBudget::Permit> permit;
  {
    auto budget = std::make_shared<ConnectionBudget>(1);
    permit = budget->TryAcquire();
  }
  permit.reset();  // no use-after-free under ASan
}

TEST(ConnectionBudgetTest, NeverOvershootsUnderContention) {
  auto budget = std::make_shared<ConnectionBudget>(3);
  std::atomic<int> max_seen{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto permit = budget->TryAcquire();
        if (!permit) continue;
        int now = static_cast<int>(budget->in_use());
        int seen = max_seen.load();
        while (now > seen && !max_seen.compare_exchange_weak(seen, now)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_seen.load(), 3);
  EXPECT_EQ(budget->in_use(), 0u);
}

}  // namespace
}  // namespace shadowcat
