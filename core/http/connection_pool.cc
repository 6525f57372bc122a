#include "core/http/connection_pool.h"

#include <utility>
#include <vector>

#include "boost/asio/buffer.hpp"
#include "boost/asio/error.hpp"

namespace shadowcat {
namespace {

// An idle HTTP/1.1 connection has nothing to read. Readable-at-EOF means the
// server closed it while it sat here; stray bytes mean it cannot be trusted for
// the next response. Either way reusing it would only fail or confuse the next
// exchange.
bool LooksReusable(ConnectionPool::Socket& socket) {
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  if (ec) return false;
  char byte;
  socket.receive(boost::asio::buffer(&byte, 1),
                 ConnectionPool::Socket::message_peek, ec);
  boost::system::error_code ignored;
  socket.non_blocking(false, ignored);
  return ec == boost::asio::error::would_block;
}

void CloseSocket(ConnectionPool::Socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(ConnectionPool::Socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace

ConnectionPool::ConnectionPool(size_t max_idle_per_origin,
                               absl::Duration idle_timeout)
    : max_idle_per_origin_(max_idle_per_origin),
      idle_timeout_(std::chrono::duration_cast<Clock::duration>(
          absl::ToChronoNanoseconds(idle_timeout))) {}

ConnectionPool::~ConnectionPool() { Close(); }

bool ConnectionPool::Expired(const Idle& idle, Clock::time_point now) const {
  return now - idle.since >= idle_timeout_;
}

std::unique_ptr<ConnectionPool::Socket> ConnectionPool::Take(
    const std::string& origin) {
  while (true) {
    std::unique_ptr<Socket> candidate;
    std::vector<std::unique_ptr<Socket>> stale;
    {
      absl::MutexLock lock(&mu_);
      auto it = idle_.find(origin);
      if (it == idle_.end()) return nullptr;
      std::deque<Idle>& list = it->second;
      if (Expired(list.back(), Clock::now())) {
        // Oldest at the front: when the newest expired, all did.
        for (auto& entry : list) stale.push_back(std::move(entry.socket));
        list.clear();
      } else {
        // Newest first: the least likely to have been timed out by the server.
        candidate = std::move(list.back().socket);
        list.pop_back();
      }
      if (list.empty()) idle_.erase(it);
    }
    // Checking and closing sockets are system calls: done outside the lock.
    for (auto& socket : stale) CloseSocket(*socket);
    if (candidate == nullptr) return nullptr;
    if (LooksReusable(*candidate)) return candidate;
    CloseSocket(*candidate);
  }
}

void ConnectionPool::Put(const std::string& origin,
                         std::unique_ptr<Socket> socket) {
  if (socket == nullptr) return;
  std::vector<std::unique_ptr<Socket>> evicted;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || max_idle_per_origin_ == 0) {
      evicted.push_back(std::move(socket));
    } else {
      std::deque<Idle>& list = idle_[origin];
      const Clock::time_point now = Clock::now();
      while (!list.empty() && (list.size() >= max_idle_per_origin_ ||
                               Expired(list.front(), now))) {
        evicted.push_back(std::move(list.front().socket));
        list.pop_front();
      }
      list.push_back(Idle{std::move(socket), now});
    }
  }
  for (auto& s : evicted) CloseSocket(*s);
}

void ConnectionPool::Close() {
  absl::flat_hash_map<std::string, std::deque<Idle>> idle;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    idle.swap(idle_);
  }
  for (auto& [origin, list] : idle) {
    for (auto& entry : list) CloseSocket(*entry.socket);
  }
}

size_t ConnectionPool::idle_count() const {
  absl::MutexLock lock(&mu_);
  const Clock::time_point now = Clock::now();
  size_t count = 0;
  for (const auto& [origin, list] : idle_) {
    for (const auto& entry : list) {
      if (!Expired(entry, now)) ++count;
    }
  }
  return count;
}

}  // namespace shadowcat
