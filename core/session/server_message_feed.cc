#include "core/session/server_message_feed.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace shadowcat {

const ServerMessage& ServerMessageFeed::Append(ServerMessage message) {
  message.sequence = next_sequence_++;
  buffered_bytes_ += message.json.size();
  buffer_.push_back(std::move(message));
  // The newest message always stays, even alone over the byte bound: it is
  // being delivered right now.
  while (buffer_.size() > 1 && (buffer_.size() > limits_.max_messages ||
                                buffered_bytes_ > limits_.max_bytes)) {
    buffered_bytes_ -= buffer_.front().json.size();
    buffer_.pop_front();
  }
  return buffer_.back();
}

absl::StatusOr<std::vector<ServerMessage>> ServerMessageFeed::After(
    uint64_t after_sequence) const {
  const uint64_t oldest =
      buffer_.empty() ? next_sequence_ : buffer_.front().sequence;
  if (after_sequence + 1 < oldest) {
    return absl::OutOfRangeError(
        absl::StrCat("messages after sequence ", after_sequence,
                     " were evicted; the oldest buffered is ", oldest,
                     " (--subscribe_buffer_messages)"));
  }
  std::vector<ServerMessage> out;
  for (const ServerMessage& message : buffer_) {
    if (message.sequence > after_sequence) out.push_back(message);
  }
  return out;
}

void ServerMessageFeed::AddSubscriber(std::shared_ptr<EventSink> sink) {
  subscribers_.push_back(std::move(sink));
}

void ServerMessageFeed::RemoveSubscriber(const EventSink* sink) {
  subscribers_.erase(
      std::remove_if(subscribers_.begin(), subscribers_.end(),
                     [sink](const auto& s) { return s.get() == sink; }),
      subscribers_.end());
}

std::vector<std::shared_ptr<EventSink>> ServerMessageFeed::TakeSubscribers() {
  return std::exchange(subscribers_, {});
}

}  // namespace shadowcat
