#include "server/server.h"

#include <sched.h>

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "core/common/log.h"
#include "core/common/status_macros.h"
#include "core/http/tls_context.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/error_trailers.h"
#include "server/grpc_credentials.h"

namespace shadowcat {
namespace {

// Splits "host:port" (IPv6 as "[::1]:port") for the admin listener.
absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(
    const std::string& address) {
  size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin_listen \"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

// gRPC's callback API runs on threads of its own, so one Asio thread per core
// would oversubscribe the cores, and every hop between two of our threads
// costs a wake-up (on 2 cores, 1 I/O thread halved the context switches per
// call; see tests/bench). Half the cores this process may run on, at least 1.
int DefaultIoThreads() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int usable = 0;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) usable = CPU_COUNT(&cpus);
  if (usable <= 0)
    usable = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, usable / 2);
}

}  // namespace

Server::Server(Config config)
    : config_(std::move(config)), work_(boost::asio::make_work_guard(ioc_)) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(Config config,
                                                      ServerOptions options) {
  SC_RETURN_IF_ERROR(ValidateConfig(config));
  std::unique_ptr<Server> server(new Server(std::move(config)));
  const Config& cfg = server->config_;
  server->metrics_.sessions_max().Set(static_cast<double>(cfg.max_sessions));
  server->metrics_.upstream_requests_max().Set(
      static_cast<double>(cfg.max_connections_total));

  const int threads = cfg.io_threads > 0 ? cfg.io_threads : DefaultIoThreads();
  for (int i = 0; i < threads; ++i) {
    server->threads_.emplace_back([s = server.get()] { s->ioc_.run(); });
  }

  HttpClientOptions http_options;
  http_options.connect_timeout = cfg.connect_timeout;
  http_options.read_timeout = cfg.read_timeout;
  http_options.read_buffer_bytes = cfg.read_buffer_bytes;
  // As many idle connections per origin as one session may have requests in
  // flight, so a session's concurrent callers do not open a new TCP connection
  // per call in steady state (idle ones still expire after idle_timeout).
  http_options.max_idle_per_origin = std::max(http_options.max_idle_per_origin,
                                              cfg.max_connections_per_session);
  // TLS to upstreams: every file is read now, so a bad one stops start-up.
  TlsOptions tls_options;
  tls_options.ca_file = cfg.tls_ca_file;
  tls_options.client_cert_file = cfg.tls_client_cert_file;
  tls_options.client_key_file = cfg.tls_client_key_file;
  tls_options.min_version = cfg.tls_min_version;
  SC_ASSIGN_OR_RETURN(http_options.tls, TlsContext::Create(tls_options));

  std::vector<std::string> allowed = cfg.allowed_upstreams;
  if (options.demo_upstream) {
    SC_ASSIGN_OR_RETURN(
        server->demo_,
        DemoUpstream::Start(server->ioc_, "127.0.0.1", options.demo_port));
    allowed.push_back(server->demo_->url());
  }
  SC_ASSIGN_OR_RETURN(UpstreamAllowlist allowlist,
                      UpstreamAllowlist::Create(allowed));
  if (allowlist.empty()) {
    SC_LOG(kWarning,
           "no upstream is allowed (--allowed_upstreams is empty): every "
           "OpenSession will fail with PERMISSION_DENIED");
  }
  // PX-08: a same-origin redirect is followed only to where OpenSession
  // could have gone.
  http_options.redirect_allowlist =
      std::make_shared<const UpstreamAllowlist>(allowlist);
  server->http_ = std::make_unique<HttpClient>(server->ioc_, http_options);
  server->sessions_ =
      std::make_unique<SessionManager>(cfg, server->ioc_, *server->http_,
                                       server->metrics_, std::move(allowlist));
  server->sessions_->StartIdleSweep();
  if (!cfg.grpc_token_file.empty()) {
    // Re-read on CallerAuth's own thread, off the gRPC and I/O threads.
    SC_ASSIGN_OR_RETURN(
        server->caller_auth_,
        CallerAuth::Create(cfg.grpc_token_file,
                           cfg.grpc_credentials_reload_interval));
  }
  server->service_ = std::make_unique<ShadowcatService>(
      *server->sessions_, server->metrics_, server->config_,
      server->caller_auth_.get());
  SC_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                      MakeGrpcServerCredentials(cfg));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(cfg.grpc_listen, credentials, &server->grpc_port_);
  builder.RegisterService(server->service_.get());
  // Upstream error details as plain trailers too, on every failed call.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(ErrorTrailersInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->grpc_ = builder.BuildAndStart();
  if (server->grpc_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", cfg.grpc_listen));
  }
  // Not serving until the admin listener is up too.
  server->SetHealth(false);

  SC_ASSIGN_OR_RETURN(auto admin_address, SplitHostPort(cfg.admin_listen));
  SC_ASSIGN_OR_RETURN(
      server->admin_,
      HttpServer::Start(
          server->ioc_, admin_address.first, admin_address.second,
          MakeAdminHandler(server->metrics_, &server->process_metrics_,
                           server->ready_),
          AdminHttpOptions()));
  server->SetHealth(true);
  server->ready_.store(true, std::memory_order_release);
  return server;
}

void Server::Drain(absl::Duration grace) {
  if (drained_) return;
  drained_ = true;
  ready_.store(false, std::memory_order_release);
  SetHealth(false);
  sessions_->BeginDrain();

  // gRPC refuses new calls at once and waits for those in flight. Ours finish
  // when their upstream answers, so a call still waiting after the grace period
  // is cut by cancelling the upstream exchanges: its reactor then finishes and
  // Shutdown() can return.
  absl::Notification grpc_stopped;
  std::thread stopper([this, grace, &grpc_stopped] {
    grpc_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    grpc_stopped.Notify();
  });
  const bool in_time =
      grpc_stopped.WaitForNotificationWithTimeout(grace + absl::Seconds(1));

  // SM-07: DELETE every upstream session, each bounded by close_timeout.
  absl::Notification closed;
  sessions_->CloseAll([&closed] { closed.Notify(); });
  closed.WaitForNotificationWithTimeout(config_.close_timeout +
                                        absl::Seconds(1));
  if (!in_time) {
    SC_LOG(kWarning, "calls still in flight after the drain grace: cancelled");
    http_->Shutdown();
  }
  stopper.join();
}

void Server::SetHealth(bool serving) {
  grpc::HealthCheckServiceInterface* health = grpc_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(kHealthServerName, serving);
  health->SetServingStatus(kHealthServiceName, serving);
}

Server::~Server() {
  ready_.store(false);
  // Cancel upstream work first: a call waiting on its upstream finishes with
  // CANCELLED, so gRPC's Shutdown() below does not wait for its deadline.
  if (http_) http_->Shutdown();
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now());
  if (admin_) admin_->Stop();
  if (demo_) demo_->Stop();
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  // What the cancellations above posted and the stop cut short (an exchange
  // failing because the client is shut down, the stream it ends, the session
  // that stream holds for its POST) runs once here: abandoned, those handlers
  // would leave a session and its streams holding each other for good.
  ioc_.restart();
  ioc_.poll();
  // Members are destroyed in reverse order: the gRPC server before the service
  // and the session manager it calls, the io_context (with any handlers left)
  // after them.
}

}  // namespace shadowcat
