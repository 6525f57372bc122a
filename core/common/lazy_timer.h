#ifndef SHADOWCAT_CORE_COMMON_LAZY_TIMER_H_
#define SHADOWCAT_CORE_COMMON_LAZY_TIMER_H_

// A steady_timer made on first use. Most streams never reconnect or stall,
// and an idle session sets no deadline; at 120 bytes a timer, ten thousand
// idle sessions would otherwise carry megabytes of timers never armed.
//
// Threading: as the timer's (one executor, usually a strand).

#include <memory>

#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/steady_timer.hpp"

namespace shadowcat {

class LazyTimer {
 public:
  // The timer, made on `executor` at the first call (later calls ignore it).
  boost::asio::steady_timer& Get(const boost::asio::any_io_executor& executor) {
    if (timer_ == nullptr) {
      timer_ = std::make_unique<boost::asio::steady_timer>(executor);
    }
    return *timer_;
  }

  // Cancels a pending wait; nothing when the timer was never made.
  void Cancel() {
    if (timer_ != nullptr) timer_->cancel();
  }

 private:
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_COMMON_LAZY_TIMER_H_
