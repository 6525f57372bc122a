#ifndef SHADOWCAT_CORE_COMMON_ASIO_TIME_H_
#define SHADOWCAT_CORE_COMMON_ASIO_TIME_H_

#include <algorithm>
#include <chrono>

#include "absl/time/time.h"
#include "boost/asio/steady_timer.hpp"

namespace shadowcat {

// An absl::Duration as a steady_timer duration; negative durations are zero.
inline boost::asio::steady_timer::duration ToTimerDuration(absl::Duration d) {
  return std::chrono::duration_cast<boost::asio::steady_timer::duration>(
      absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration())));
}

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_COMMON_ASIO_TIME_H_
