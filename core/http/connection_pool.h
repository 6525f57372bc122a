#ifndef SHADOWCAT_CORE_HTTP_CONNECTION_POOL_H_
#define SHADOWCAT_CORE_HTTP_CONNECTION_POOL_H_

// Idle keep-alive connections, per origin, shared by every exchange of one
// HttpClient.
//
// Thread-safe (one mutex). A pooled connection has no operation pending and
// belongs to the pool; Take() hands ownership to one exchange, which then uses
// it on its own strand. Connections run on the io_context's plain executor, so
// any strand may reuse them. TLS connections are pooled like plain ones: the
// origin key ("https://host:port") keeps them apart.

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/http/http_connection.h"

namespace shadowcat {

class ConnectionPool {
 public:
  using Connection = std::shared_ptr<HttpConnection>;

  // Keeps at most `max_idle_per_origin` connections per origin (0 disables
  // pooling) and reuses none that has been idle longer than `idle_timeout`.
  ConnectionPool(size_t max_idle_per_origin, absl::Duration idle_timeout);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // The most recently parked connection to `origin` that is fresh and still
  // open, or nullptr. Expired connections, and ones the peer closed or wrote to
  // while idle, are closed on the way.
  Connection Take(const std::string& origin);

  // Parks `connection` (open, nothing pending, nothing unread) under `origin`
  // (Url::Origin(), scheme included). When the origin is full the oldest idle
  // connection is closed. After Close() the connection is closed instead.
  void Put(const std::string& origin, Connection connection);

  // Closes every idle connection and refuses new ones. Idempotent.
  void Close();

  // Idle connections that are not yet expired.
  size_t idle_count() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Idle {
    Connection connection;
    Clock::time_point since;
  };

  bool Expired(const Idle& idle, Clock::time_point now) const;

  const size_t max_idle_per_origin_;
  const Clock::duration idle_timeout_;
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Oldest at the front.
  absl::flat_hash_map<std::string, std::deque<Idle>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_CONNECTION_POOL_H_
