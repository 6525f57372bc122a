#ifndef SHADOWCAT_CORE_SESSION_RECONNECT_POLICY_H_
#define SHADOWCAT_CORE_SESSION_RECONNECT_POLICY_H_

// When to reconnect a dropped upstream SSE stream, and when to give up. Pure:
// no I/O, no clock; randomness comes in through absl::BitGenRef.
//
// - The server's `retry:` wins, exactly (RZ-06: MUST wait that long; the
//   conformance check fails above 2x, so no backoff is stacked on it).
// - Otherwise: base * 2^n, capped, with +-jitter (design section 5).
// - Attempts are bounded by progress (RZ-10): n counts reconnects that brought
//   no new event id; one that advanced the cursor resets it. So a server that
//   closes every connection after a few events (SEP-1699 polling) is followed
//   for as long as it makes progress, while one that answers every resume with
//   an empty stream is given up on after max_attempts.

#include <cstdint>
#include <optional>

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace shadowcat {

struct ReconnectOptions {
  // First delay without a server retry. Default: 250 ms.
  absl::Duration base_delay = absl::Milliseconds(250);
  // Largest delay without a server retry. Default: 30 s.
  absl::Duration max_delay = absl::Seconds(30);
  // Relative jitter, 0..1: the delay is scaled by a uniform factor in
  // [1 - jitter, 1 + jitter]. Default: 0.25.
  double jitter = 0.25;
  // Reconnects in a row without a new event id before the stream fails.
  // Default: 5.
  int max_attempts_without_progress = 5;
};

class ReconnectPolicy {
 public:
  explicit ReconnectPolicy(ReconnectOptions options) : options_(options) {}

  // Records how the connection that just ended went: whether it delivered an
  // event id the stream did not have before.
  void OnConnectionEnded(bool made_progress) {
    attempts_without_progress_ =
        made_progress ? 1 : attempts_without_progress_ + 1;
  }

  // Starts over, as a new stream would.
  void Reset() { attempts_without_progress_ = 0; }

  // True while another attempt is allowed.
  bool ShouldRetry() const {
    return attempts_without_progress_ <= options_.max_attempts_without_progress;
  }

  // The delay before the next attempt. `server_retry_ms` is the stream's last
  // valid `retry:` field, if any.
  absl::Duration NextDelay(std::optional<int64_t> server_retry_ms,
                           absl::BitGenRef gen) const;

  int attempts_without_progress() const { return attempts_without_progress_; }

  // NextDelay's jitter source for a running stream: one generator per
  // thread, so a stream or session does not carry its own (an absl::BitGen
  // is ~300 bytes; jitter needs no sequence of its own).
  static absl::BitGenRef ThreadJitter();

 private:
  const ReconnectOptions options_;
  int attempts_without_progress_ = 0;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_RECONNECT_POLICY_H_
