#include "core/session/reconnect_policy.h"

#include <algorithm>

#include "absl/random/distributions.h"
#include "absl/random/random.h"

namespace shadowcat {

absl::BitGenRef ReconnectPolicy::ThreadJitter() {
  thread_local absl::BitGen gen;
  return gen;
}

absl::Duration ReconnectPolicy::NextDelay(
    std::optional<int64_t> server_retry_ms, absl::BitGenRef gen) const {
  if (server_retry_ms.has_value()) return absl::Milliseconds(*server_retry_ms);
  // The first reconnect after progress waits `base`; each fruitless one
  // doubles it. The exponent is capped before shifting so it cannot overflow.
  const int doublings = std::clamp(attempts_without_progress_ - 1, 0, 30);
  absl::Duration delay = std::min(
      options_.base_delay * (int64_t{1} << doublings), options_.max_delay);
  const double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  if (jitter > 0) {
    delay *= absl::Uniform(gen, 1.0 - jitter, 1.0 + jitter);
  }
  return std::max(delay, absl::ZeroDuration());
}

}  // namespace shadowcat
