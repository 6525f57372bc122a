#ifndef SHADOWCAT_CORE_SESSION_CONNECTION_BUDGET_H_
#define SHADOWCAT_CORE_SESSION_CONNECTION_BUDGET_H_

// A counted limit on concurrent upstream requests (PX-05): one budget per
// session and one for the whole process. Lock-free; safe from any thread. A
// Permit returns its slot when destroyed, so a slot can never leak on an error
// path, and it shares ownership of its budget, so a permit held by a handler
// that outlives its session stays valid.

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

namespace shadowcat {

class ConnectionBudget : public std::enable_shared_from_this<ConnectionBudget> {
 public:
  class Permit {
   public:
    Permit(Permit&& other) noexcept = default;
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        Release();
        budget_ = std::move(other.budget_);
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { Release(); }

   private:
    friend class ConnectionBudget;
    explicit Permit(std::shared_ptr<ConnectionBudget> budget)
        : budget_(std::move(budget)) {}
    void Release() {
      if (budget_ != nullptr)
        budget_->in_use_.fetch_sub(1, std::memory_order_acq_rel);
      budget_.reset();
    }
    std::shared_ptr<ConnectionBudget> budget_;
  };

  // Create with std::make_shared: permits share ownership.
  explicit ConnectionBudget(size_t limit) : limit_(limit) {}

  // A permit, or nullopt when `limit` slots are in use.
  std::optional<Permit> TryAcquire() {
    size_t current = in_use_.load(std::memory_order_relaxed);
    do {
      if (current >= limit_) return std::nullopt;
    } while (!in_use_.compare_exchange_weak(current, current + 1,
                                            std::memory_order_acq_rel));
    return Permit(shared_from_this());
  }

  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  const size_t limit_;
  std::atomic<size_t> in_use_{0};
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_CONNECTION_BUDGET_H_
