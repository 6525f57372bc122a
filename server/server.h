#ifndef SHADOWCAT_SERVER_SERVER_H_
#define SHADOWCAT_SERVER_SERVER_H_

// The whole sidecar, wired: the Asio I/O threads, the upstream HTTP client, the
// session manager, the gRPC server (Shadowcat API, health, reflection), the
// admin HTTP listener and, on request, the built-in demo upstream. Tests start
// it on port 0 in-process.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "core/config/config.h"
#include "core/http/http_client.h"
#include "core/metrics/process_metrics.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/session_manager.h"
#include "grpcpp/grpcpp.h"
#include "server/admin_endpoints.h"
#include "server/caller_auth.h"
#include "server/demo_upstream.h"
#include "server/http_server.h"
#include "server/shadowcat_service.h"

namespace shadowcat {

// The service names the gRPC health service (grpc.health.v1.Health) reports:
// "" (the whole server) and the Shadowcat API. Both are SERVING once Start()
// returned and NOT_SERVING from the start of Drain().
inline constexpr char kHealthServerName[] = "";
inline constexpr char kHealthServiceName[] = "shadowcat.v1.Shadowcat";

struct ServerOptions {
  // Start the built-in demo MCP upstream on loopback and allow it.
  bool demo_upstream = false;
  // Its port on 127.0.0.1; 0 picks a free one.
  uint16_t demo_port = 0;
};

class Server {
 public:
  // Binds every listener (a port 0 in the config picks a free port) and starts
  // serving. InvalidArgument for a bad config, Unavailable when a port cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      Config config, ServerOptions options = {});
  ~Server();

  int grpc_port() const { return grpc_port_; }
  uint16_t admin_port() const { return admin_->port(); }
  // "http://127.0.0.1:PORT/mcp" when the demo upstream runs, else empty.
  std::string demo_upstream_url() const { return demo_ ? demo_->url() : ""; }
  ShadowcatMetrics& metrics() { return metrics_; }

  // Graceful drain (SIGTERM): /readyz turns 503 and both health names
  // NOT_SERVING, new sessions are refused,
  // every session is closed upstream (DELETE, bounded), and calls in flight get
  // up to `grace` to finish.
  void Drain(absl::Duration grace);

 private:
  explicit Server(Config config);
  // Sets both health names (kHealthServerName, kHealthServiceName).
  void SetHealth(bool serving);

  const Config config_;
  std::atomic<bool> ready_{false};
  // Declared before the io_context: handlers destroyed with it may still hold
  // permits and metric references, so these must outlive it.
  ShadowcatMetrics metrics_;
  ProcessMetrics process_metrics_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<HttpClient> http_;
  // Null without --grpc_token_file. Before service_, which points at it.
  std::unique_ptr<CallerAuth> caller_auth_;
  std::unique_ptr<DemoUpstream> demo_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<ShadowcatService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  std::unique_ptr<HttpServer> admin_;
  bool drained_ = false;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_SERVER_H_
