#include "core/http/connection_pool.h"

#include <utility>
#include <vector>

namespace shadowcat {

ConnectionPool::ConnectionPool(size_t max_idle_per_origin,
                               absl::Duration idle_timeout)
    : max_idle_per_origin_(max_idle_per_origin),
      idle_timeout_(std::chrono::duration_cast<Clock::duration>(
          absl::ToChronoNanoseconds(idle_timeout))) {}

ConnectionPool::~ConnectionPool() { Close(); }

bool ConnectionPool::Expired(const Idle& idle, Clock::time_point now) const {
  return now - idle.since >= idle_timeout_;
}

ConnectionPool::Connection ConnectionPool::Take(const std::string& origin) {
  while (true) {
    Connection candidate;
    std::vector<Connection> stale;
    {
      absl::MutexLock lock(&mu_);
      auto it = idle_.find(origin);
      if (it == idle_.end()) return nullptr;
      std::deque<Idle>& list = it->second;
      if (Expired(list.back(), Clock::now())) {
        // Oldest at the front: when the newest expired, all did.
        for (auto& entry : list) stale.push_back(std::move(entry.connection));
        list.clear();
      } else {
        // Newest first: the least likely to have been timed out by the server.
        candidate = std::move(list.back().connection);
        list.pop_back();
      }
      if (list.empty()) idle_.erase(it);
    }
    // Checking and closing connections are system calls: done outside the lock.
    for (auto& connection : stale) connection->Close();
    if (candidate == nullptr) return nullptr;
    if (candidate->LooksReusable()) return candidate;
    candidate->Close();
  }
}

void ConnectionPool::Put(const std::string& origin, Connection connection) {
  if (connection == nullptr) return;
  std::vector<Connection> evicted;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || max_idle_per_origin_ == 0) {
      evicted.push_back(std::move(connection));
    } else {
      std::deque<Idle>& list = idle_[origin];
      const Clock::time_point now = Clock::now();
      while (!list.empty() && (list.size() >= max_idle_per_origin_ ||
                               Expired(list.front(), now))) {
        evicted.push_back(std::move(list.front().connection));
        list.pop_front();
      }
      list.push_back(Idle{std::move(connection), now});
    }
  }
  for (auto& c : evicted) c->Close();
}

void ConnectionPool::Close() {
  absl::flat_hash_map<std::string, std::deque<Idle>> idle;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    idle.swap(idle_);
  }
  for (auto& [origin, list] : idle) {
    for (auto& entry : list) entry.connection->Close();
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
