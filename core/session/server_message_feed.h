#ifndef SHADOWCAT_CORE_SESSION_SERVER_MESSAGE_FEED_H_
#define SHADOWCAT_CORE_SESSION_SERVER_MESSAGE_FEED_H_

// The session's feed of server-initiated messages for Subscribe: every message
// gets the next sequence number (1, 2, ...) and is kept in a bounded buffer, so
// a backend that lost its gRPC stream re-subscribes after the last sequence it
// saw and gets what it missed. Pure bookkeeping: the session delivers.
//
// Threading: strand-confined, like its session.

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "core/session/event_sink.h"

namespace shadowcat {

struct FeedLimits {
  // Messages kept for re-subscription, whichever bound is hit first evicts the
  // oldest. Defaults: 1024 messages, 4 MiB.
  size_t max_messages = 1024;
  size_t max_bytes = 4 << 20;
};

class ServerMessageFeed {
 public:
  explicit ServerMessageFeed(FeedLimits limits) : limits_(limits) {}

  // Numbers `message`, keeps a copy and returns the numbered message.
  const ServerMessage& Append(ServerMessage message);

  // The buffered messages after `after_sequence`, in order; OutOfRange when
  // some of them were already evicted.
  absl::StatusOr<std::vector<ServerMessage>> After(
      uint64_t after_sequence) const;

  void AddSubscriber(std::shared_ptr<EventSink> sink);
  void RemoveSubscriber(const EventSink* sink);
  const std::vector<std::shared_ptr<EventSink>>& subscribers() const {
    return subscribers_;
  }
  std::vector<std::shared_ptr<EventSink>> TakeSubscribers();

  uint64_t last_sequence() const { return next_sequence_ - 1; }
  size_t buffered() const { return buffer_.size(); }

 private:
  const FeedLimits limits_;
  uint64_t next_sequence_ = 1;
  // A list, not a deque: libstdc++'s deque allocates 576 bytes when made,
  // and most sessions' upstreams never send a server message.
  std::list<ServerMessage> buffer_;
  size_t buffered_bytes_ = 0;
  std::vector<std::shared_ptr<EventSink>> subscribers_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_SERVER_MESSAGE_FEED_H_
