#include "core/session/session_manager.h"

#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/strand.hpp"
#include "core/common/log.h"
#include "core/common/status_macros.h"
#include "core/http/header_policy.h"
#include "core/jsonrpc/json_scan.h"
#include "core/session/protocol_version.h"

namespace shadowcat {
namespace {

constexpr absl::string_view kShadowcatVersion = "0.1.0";
// The sweep runs this often, or at the idle timeout if that is shorter.
constexpr absl::Duration kSweepInterval = absl::Seconds(30);

// 128 bits from the kernel's CSPRNG: handles are unguessable, so one backend
// cannot reach another's session (absl::BitGen is not cryptographic).
std::string NewSessionHandle() {
  unsigned char bytes[16];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n > 0) {
      filled += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      // getrandom(2) only fails like this on kernels older than 3.17.
      SC_LOG(kError, "getrandom failed; cannot make a session handle");
      std::abort();
    }
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::StatusOr<std::string> ClientInfoJson(const OpenParams& params) {
  std::string name =
      params.client_name.empty() ? "shadowcat" : params.client_name;
  std::string version = params.client_version.empty()
                            ? std::string(kShadowcatVersion)
                            : params.client_version;
  for (absl::string_view field : {name, version, params.client_title}) {
    if (!IsValidUtf8(field))
      return absl::InvalidArgumentError("client_info is not UTF-8");
  }
  std::string json = absl::StrCat("{\"name\":", QuoteJsonString(name),
                                  ",\"version\":", QuoteJsonString(version));
  if (!params.client_title.empty()) {
    absl::StrAppend(&json, ",\"title\":", QuoteJsonString(params.client_title));
  }
  json.push_back('}');
  return json;
}

// The key of the era cache: origin and path, no query.
std::string EndpointKey(const Url& url) {
  return absl::StrCat(url.Origin(),
                      url.target.substr(0, url.target.find_first_of("?#")));
}

// Endpoints remembered at most; past it the cache starts over (a probe more
// per endpoint is all that costs).
constexpr size_t kMaxEraCacheEntries = 4096;

// Whether a session was opened with the discovery probe, and where to.
struct EraProbe {
  std::string endpoint;
  bool probed = false;
};

// VN-11: an endpoint that answered the probe the session-era way is not asked
// again; one found modern (by the probe, a pin, or a -32022 switch) is
// forgotten.
void RememberEra(absl::flat_hash_set<std::string>& session_era_endpoints,
                 const EraProbe& probe,
                 const absl::StatusOr<InitializeResult>& init) {
  if (!init.ok()) return;
  if (init->era == ProtocolEra::kSessionless) {
    session_era_endpoints.erase(probe.endpoint);
    return;
  }
  if (!probe.probed) return;
  if (session_era_endpoints.size() >= kMaxEraCacheEntries) {
    session_era_endpoints.clear();
  }
  session_era_endpoints.insert(probe.endpoint);
}

}  // namespace

SessionManager::SessionManager(const Config& config,
                               boost::asio::io_context& ioc, HttpClient& http,
                               ShadowcatMetrics& metrics,
                               UpstreamAllowlist allowlist)
    : config_(config),
      ioc_(ioc),
      http_(http),
      metrics_(metrics),
      allowlist_(std::move(allowlist)),
      global_budget_(
          std::make_shared<ConnectionBudget>(config.max_connections_total)),
      sweep_timer_(boost::asio::make_strand(ioc)) {}

// The io_context's threads are stopped before the manager goes, so the timer
// is idle here.
SessionManager::~SessionManager() = default;

void SessionManager::Open(
    OpenParams params,
    absl::AnyInvocable<void(absl::StatusOr<OpenResult>)> done) {
  auto prepared = [&]() -> absl::StatusOr<SessionParams> {
    SessionParams sp;
    absl::StatusOr<Url> url = ParseUrl(params.upstream_url);
    if (!url.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("upstream_url: ", url.status().message()));
    }
    if (absl::Status allowed = allowlist_.Check(*url); !allowed.ok()) {
      metrics_.allowlist_denials_total().Increment();
      return allowed;
    }
    sp.url = *std::move(url);
    for (auto& [name, value] : params.headers) {
      SC_RETURN_IF_ERROR(CheckCallerHeader(name, value));
      sp.extra_headers.emplace_back(name, value);
    }
    sp.offered_version = params.protocol_version.empty()
                             ? std::string(kLatestProtocolVersion)
                             : params.protocol_version;
    SC_RETURN_IF_ERROR(CheckOfferedVersion(sp.offered_version));
    SC_ASSIGN_OR_RETURN(sp.client_info_raw, ClientInfoJson(params));
    sp.capabilities_raw =
        params.capabilities_json.empty() ? "{}" : params.capabilities_json;
    absl::StatusOr<std::vector<JsonMember>> caps =
        ScanObject(sp.capabilities_raw);
    if (!caps.ok()) {
      metrics_.parse_errors_total(ParseErrorKind::kCallerJson).Increment();
      return absl::InvalidArgumentError(
          absl::StrCat("capabilities_json: ", caps.status().message()));
    }
    sp.request_timeout = params.request_timeout > absl::ZeroDuration()
                             ? params.request_timeout
                             : config_.request_timeout;
    sp.open_server_stream = params.open_server_stream;
    sp.trace_headers = params.trace_headers;
    sp.probe_modern_era =
        config_.prefer_modern_era && params.protocol_version.empty();
    return sp;
  }();
  if (!prepared.ok()) {
    metrics_.sessions_open_failed_total().Increment();
    done(prepared.status());
    return;
  }
  absl::Status admitted = [&] {
    absl::MutexLock lock(&mu_);
    if (draining_) return absl::UnavailableError("shadowcat is shutting down");
    if (sessions_.size() + opening_ >= config_.max_sessions) {
      metrics_.limit_rejections_total(LimitKind::kSessions).Increment();
      return absl::ResourceExhaustedError(
          absl::StrCat("the sidecar has ", config_.max_sessions,
                       " sessions (--max_sessions)"));
    }
    ++opening_;
    if (prepared->probe_modern_era &&
        session_era_endpoints_.contains(EndpointKey(prepared->url))) {
      prepared->probe_modern_era = false;
    }
    return absl::OkStatus();
  }();
  // `done` finishes a gRPC call: never under mu_.
  if (!admitted.ok()) {
    metrics_.sessions_open_failed_total().Increment();
    done(std::move(admitted));
    return;
  }
  EraProbe probe{EndpointKey(prepared->url), prepared->probe_modern_era};
  auto session = std::make_shared<Session>(
      NewSessionHandle(), *std::move(prepared),
      Session::Deps{ioc_, http_, metrics_, global_budget_, config_});
  session->Initialize([this, session, probe, done = std::move(done)](
                          absl::StatusOr<InitializeResult> init) mutable {
    bool rejected = false;
    {
      absl::MutexLock lock(&mu_);
      --opening_;
      RememberEra(session_era_endpoints_, probe, init);
      if (init.ok() && draining_) {
        rejected = true;
      } else if (init.ok()) {
        sessions_.emplace(session->id(), session);
      }
    }
    if (rejected) {
      session->Close([](bool) {});
      init = absl::UnavailableError("shadowcat is shutting down");
    }
    if (!init.ok()) {
      metrics_.sessions_open_failed_total().Increment();
      done(init.status());
      return;
    }
    metrics_.sessions_opened_total().Increment();
    metrics_.sessions_active().Increment();
    // Redacted: a URL's query or userinfo may carry a token (SM-02, AU-02).
    SC_LOG(kInfo, "session opened: upstream ", session->RedactedUrl(),
           " version ", init->protocol_version);
    done(OpenResult{session->id(), *std::move(init)});
  });
}

absl::StatusOr<std::shared_ptr<Session>> SessionManager::Find(
    const std::string& session_id) {
  std::shared_ptr<Session> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return absl::NotFoundError("unknown session");
    session = it->second;
  }
  if (!session->is_open()) {
    // It expired upstream (HTTP 404); drop it now that someone noticed.
    Remove(session_id, /*expired=*/true);
    return absl::NotFoundError(
        "session expired: the upstream no longer knows it");
  }
  return session;
}

void SessionManager::Remove(const std::string& session_id, bool expired) {
  std::shared_ptr<Session> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  metrics_.sessions_active().Decrement();
  (expired ? metrics_.sessions_expired_total()
           : metrics_.sessions_closed_total())
      .Increment();
}

void SessionManager::Close(const std::string& session_id,
                           absl::AnyInvocable<void(absl::StatusOr<bool>)> done,
                           HeaderList trace_headers) {
  std::shared_ptr<Session> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end()) session = it->second;
  }
  if (session == nullptr) {
    done(absl::NotFoundError("unknown session"));
    return;
  }
  Remove(session_id, /*expired=*/false);
  session->Close(
      [done = std::move(done)](bool deleted) mutable { done(deleted); },
      std::move(trace_headers));
}

void SessionManager::List(
    absl::AnyInvocable<void(std::vector<SessionSnapshot>)> done) {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, session] : sessions_) sessions.push_back(session);
  }
  // Each session describes itself on its own strand; the last one to answer
  // hands the list over.
  struct Gather {
    absl::Mutex mu;
    std::vector<SessionSnapshot> snapshots ABSL_GUARDED_BY(mu);
    size_t remaining ABSL_GUARDED_BY(mu);
    absl::AnyInvocable<void(std::vector<SessionSnapshot>)> done;
  };
  auto gather = std::make_shared<Gather>();
  {
    absl::MutexLock lock(&gather->mu);
    gather->remaining = sessions.size();
  }
  gather->done = std::move(done);
  if (sessions.empty()) {
    gather->done({});
    return;
  }
  for (auto& session : sessions) {
    session->Describe([gather](SessionSnapshot snapshot) {
      std::vector<SessionSnapshot> all;
      {
        absl::MutexLock lock(&gather->mu);
        gather->snapshots.push_back(std::move(snapshot));
        if (--gather->remaining != 0) return;
        all = std::move(gather->snapshots);
      }
      gather->done(std::move(all));
    });
  }
}

size_t SessionManager::size() {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void SessionManager::BeginDrain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

void SessionManager::CloseAll(absl::AnyInvocable<void()> done) {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    for (auto& [id, session] : sessions_) ids.push_back(id);
  }
  auto remaining = std::make_shared<std::atomic<size_t>>(ids.size() + 1);
  auto shared_done =
      std::make_shared<absl::AnyInvocable<void()>>(std::move(done));
  auto one_done = [remaining, shared_done]() {
    if (remaining->fetch_sub(1) == 1) (*shared_done)();
  };
  for (const std::string& id : ids) {
    Close(id, [one_done](absl::StatusOr<bool>) { one_done(); });
  }
  one_done();
}

void SessionManager::StartIdleSweep() {
  // Runs before any I/O thread uses the timer, then only in the timer's own
  // handler on its strand, so the timer is never touched concurrently. A drain
  // ends the chain at its next tick.
  {
    absl::MutexLock lock(&mu_);
    if (draining_) return;
  }
  sweep_timer_.expires_after(absl::ToChronoMilliseconds(
      std::min(kSweepInterval, config_.idle_session_timeout)));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Sweep();
    StartIdleSweep();
  });
}

void SessionManager::Sweep() {
  const absl::Time cutoff = absl::Now() - config_.idle_session_timeout;
  std::vector<std::shared_ptr<Session>> idle;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, session] : sessions_) {
      // Expired upstream (HTTP 404) but not looked up since, or unused for too
      // long: no new call, and nothing in flight or subscribed (a backend
      // listening on Subscribe for hours is using its session).
      if (!session->is_open() ||
          (session->last_used() < cutoff && !session->busy())) {
        idle.push_back(session);
      }
    }
  }
  for (auto& session : idle) {
    const bool expired = !session->is_open();
    SC_LOG(kInfo,
           expired ? "dropping expired session" : "closing idle session");
    Remove(session->id(), expired);
    session->Close([](bool) {});
  }
}

}  // namespace shadowcat
