#ifndef SHADOWCAT_CORE_SESSION_SESSION_MANAGER_H_
#define SHADOWCAT_CORE_SESSION_SESSION_MANAGER_H_

// Owns every open Session: opens them (allowlist, limits, initialize), finds
// them by the handle given to backends, closes them, and expires idle ones.
//
// Threading: all methods are thread-safe. Callbacks run on the session's
// strand.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "core/config/config.h"
#include "core/http/http_client.h"
#include "core/http/upstream_allowlist.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/connection_budget.h"
#include "core/session/session.h"

namespace shadowcat {

struct OpenParams {
  std::string upstream_url;
  HeaderList headers;
  std::string protocol_version;  // empty: the latest
  std::string client_name;       // empty: "shadowcat"
  std::string client_version;    // empty: Shadowcat's version
  std::string client_title;
  std::string capabilities_json;                          // empty: {}
  absl::Duration request_timeout = absl::ZeroDuration();  // zero: the config's
  bool open_server_stream = false;
  HeaderList trace_headers;  // as SessionParams::trace_headers
};

struct OpenResult {
  std::string session_id;
  InitializeResult init;
};

class SessionManager {
 public:
  // REQUIRES: every reference outlives the manager and the io_context's
  // handlers.
  SessionManager(const Config& config, boost::asio::io_context& ioc,
                 HttpClient& http, ShadowcatMetrics& metrics,
                 UpstreamAllowlist allowlist);
  ~SessionManager();

  // Validates the request (InvalidArgument), checks the allowlist
  // (PermissionDenied) and the session limit (ResourceExhausted), then
  // initializes a new session upstream.
  void Open(OpenParams params,
            absl::AnyInvocable<void(absl::StatusOr<OpenResult>)> done);

  // The open session with this handle, or NotFound (unknown, closed or
  // expired).
  absl::StatusOr<std::shared_ptr<Session>> Find(const std::string& session_id);

  // Removes the session and closes it upstream. NotFound for an unknown handle.
  // `trace_headers` go on the DELETE (Session::Close).
  void Close(const std::string& session_id,
             absl::AnyInvocable<void(absl::StatusOr<bool>)> done,
             HeaderList trace_headers = {});

  // Describes every session; `done` runs on some session's strand (or here,
  // when there is none).
  void List(absl::AnyInvocable<void(std::vector<SessionSnapshot>)> done);

  // Stops taking new sessions: Open fails with Unavailable from now on. Open
  // sessions keep working, so calls in flight can finish.
  void BeginDrain();

  // BeginDrain(), then closes every session; `done` runs once all closes
  // finished or timed out.
  void CloseAll(absl::AnyInvocable<void()> done);

  // Starts the periodic idle-session sweep (Config::idle_session_timeout).
  void StartIdleSweep();

  size_t size();

 private:
  void Sweep();
  void Remove(const std::string& session_id, bool expired);

  const Config& config_;
  boost::asio::io_context& ioc_;
  HttpClient& http_;
  ShadowcatMetrics& metrics_;
  const UpstreamAllowlist allowlist_;
  const std::shared_ptr<ConnectionBudget> global_budget_;
  boost::asio::steady_timer sweep_timer_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Session>> sessions_
      ABSL_GUARDED_BY(mu_);
  // Sessions being opened count against max_sessions too, so a burst cannot
  // overshoot.
  size_t opening_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  // VN-11: endpoints (origin and path) whose server/discover probe fell back
  // to the session era; they are opened with initialize straight away. The
  // spec's SHOULD caches per origin; per endpoint is stricter, as one origin
  // may host servers of both eras. A modern answer later removes the entry.
  absl::flat_hash_set<std::string> session_era_endpoints_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_SESSION_MANAGER_H_
