#ifndef SHADOWCAT_CORE_COMMON_WATERMARK_QUEUE_H_
#define SHADOWCAT_CORE_COMMON_WATERMARK_QUEUE_H_

// A FIFO that counts the bytes it holds against a high and a low watermark
// (Envoy's watermark buffers, Beast's queue_.is_full()). It never refuses an
// item: the producer is told to stop at the high watermark and is expected to
// stop reading its source, so the overshoot is bounded by what the producer
// already had in hand. Pure and not thread-safe: the owner locks.

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

namespace shadowcat {

template <typename T>
class WatermarkQueue {
 public:
  // REQUIRES: low <= high. A zero high watermark pauses after every item.
  WatermarkQueue(size_t high_bytes, size_t low_bytes)
      : high_bytes_(high_bytes),
        low_bytes_(low_bytes < high_bytes ? low_bytes : high_bytes) {}

  // Appends `item`, accounted as `bytes`. Returns true when the queue is now
  // at or above the high watermark: the producer should pause.
  bool Push(T item, size_t bytes) {
    bytes_ += bytes;
    items_.push_back(Entry{std::move(item), bytes});
    return above_high();
  }

  // Removes the oldest item; nullopt when empty.
  std::optional<T> Pop() {
    if (items_.empty()) return std::nullopt;
    Entry entry = std::move(items_.front());
    items_.pop_front();
    bytes_ -= entry.bytes;
    return std::move(entry.item);
  }

  void Clear() {
    items_.clear();
    bytes_ = 0;
  }

  bool above_high() const { return !items_.empty() && bytes_ >= high_bytes_; }
  bool at_or_below_low() const { return bytes_ <= low_bytes_; }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  size_t bytes() const { return bytes_; }
  size_t high_bytes() const { return high_bytes_; }
  size_t low_bytes() const { return low_bytes_; }

 private:
  struct Entry {
    T item;
    size_t bytes;
  };
  const size_t high_bytes_;
  const size_t low_bytes_;
  std::deque<Entry> items_;
  size_t bytes_ = 0;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_COMMON_WATERMARK_QUEUE_H_
