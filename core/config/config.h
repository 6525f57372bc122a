#ifndef SHADOWCAT_CORE_CONFIG_CONFIG_H_
#define SHADOWCAT_CORE_CONFIG_CONFIG_H_

// Every setting of the sidecar, in one struct (LevelDB Options style).
// server/main.cc maps one flag (and one SHADOWCAT_* environment variable) to
// each field.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace shadowcat {

struct Config {
  // ----------------------------------------------------------------------
  // Listen

  // gRPC API address. Loopback by default: the sidecar serves its own pod only.
  // Default: 127.0.0.1:50051.
  std::string grpc_listen = "127.0.0.1:50051";
  // Admin HTTP (/metrics /healthz /readyz). Default: 127.0.0.1:9090.
  std::string admin_listen = "127.0.0.1:9090";

  // ----------------------------------------------------------------------
  // gRPC API security (server/grpc_credentials, server/caller_auth)

  // TLS for the gRPC listener: PEM certificate chain and unencrypted key, both
  // or neither. Re-read every grpc_credentials_reload_interval, so a rotated
  // Kubernetes Secret takes effect without a restart. Default: plaintext.
  std::string grpc_tls_cert_file;
  std::string grpc_tls_key_file;
  // PEM CA bundle; when set, callers must present a client certificate it
  // signed (mTLS). Requires grpc_tls_cert_file. Default: empty (no mTLS).
  std::string grpc_tls_client_ca_file;
  // File holding the bearer token callers must send as
  // "authorization: Bearer <token>"; surrounding whitespace is ignored. The
  // gRPC health service needs no token (kubelet probes cannot send one).
  // Default: empty (no token).
  std::string grpc_token_file;
  // How often the TLS files and the token file are checked for changes.
  // Default: 10 s.
  absl::Duration grpc_credentials_reload_interval = absl::Seconds(10);
  // A grpc_listen beyond loopback with neither TLS nor a token is refused at
  // start-up unless this says the operator accepts an open API (e.g. a
  // network policy already guards it). Default: false.
  bool allow_unauthenticated_grpc_beyond_loopback = false;

  // ----------------------------------------------------------------------
  // Upstreams

  // URL prefixes a backend may open sessions to ("http://127.0.0.1:8080/mcp"
  // allows that endpoint and paths under it; a bare origin allows the whole
  // origin). An empty list denies every upstream (SSRF guard, design section
  // 6); the binary refuses to start with one unless it runs the demo upstream
  // (server/startup_policy.h). Default: empty.
  std::vector<std::string> allowed_upstreams;

  // ----------------------------------------------------------------------
  // Limits

  // Open sessions across all backends. Each costs a few KiB plus its
  // connections. Default: 1000.
  size_t max_sessions = 1000;
  // Upstream requests in flight per session (PX-05); the next gets
  // RESOURCE_EXHAUSTED. Default: 10.
  size_t max_connections_per_session = 10;
  // Upstream requests in flight across all sessions. Default: 10000.
  size_t max_connections_total = 10000;
  // Socket read size and the most one body callback carries. Default: 8 KiB.
  size_t read_buffer_bytes = 8 << 10;
  // Largest SSE event or JSON response body accepted from an upstream (PX-06);
  // larger fails the call with RESOURCE_EXHAUSTED. Default: 4 MiB.
  size_t max_message_bytes = 4 << 20;

  // ----------------------------------------------------------------------
  // Timeouts

  // TCP connect to an upstream. Default: 10 s.
  absl::Duration connect_timeout = absl::Seconds(10);
  // A request's deadline when the gRPC call carries none. Default: 60 s.
  absl::Duration request_timeout = absl::Seconds(60);
  // Longest silence on an upstream response stream before it counts as dead
  // (TO-05). Default: 300 s.
  absl::Duration read_timeout = absl::Seconds(300);
  // Bound on the DELETE sent when a session closes (SM-07). Default: 5 s.
  absl::Duration close_timeout = absl::Seconds(5);
  // Sessions unused for this long are closed. Default: 30 min.
  absl::Duration idle_session_timeout = absl::Minutes(30);

  // ----------------------------------------------------------------------
  // Streams and reconnection

  // A dropped SSE stream is resumed (GET + Last-Event-ID) after the server's
  // `retry:` when it sent one (RZ-06), else after this base delay, doubled for
  // every reconnect in a row that brings no new event, up to the max, with
  // +-jitter. Defaults: 250 ms, 30 s, 0.25.
  absl::Duration reconnect_base_delay = absl::Milliseconds(250);
  absl::Duration reconnect_max_delay = absl::Seconds(30);
  double reconnect_jitter = 0.25;
  // Reconnects in a row without a new event id before a stream fails (RZ-10).
  // Default: 5.
  int reconnect_max_attempts = 5;
  // Bytes a gRPC stream may hold for a slow backend before Shadowcat stops
  // reading the upstream socket (backpressure, PX-06); reading resumes below
  // half of it. A larger message still passes, one at a time. Default: 1 MiB.
  size_t stream_queue_bytes = 1 << 20;
  // A stream paused this long by a backend that reads nothing fails with
  // RESOURCE_EXHAUSTED. Default: 5 min.
  absl::Duration stream_stall_timeout = absl::Minutes(5);
  // A request from the upstream (sampling, elicitation, roots) that no backend
  // answers (Respond) within this gets a JSON-RPC error reply. Default: 30 s.
  absl::Duration server_request_timeout = absl::Seconds(30);
  // Server messages kept per session for Subscribe's after_sequence, by count
  // and bytes. Defaults: 1024, 4 MiB.
  size_t subscribe_buffer_messages = 1024;
  size_t subscribe_buffer_bytes = 4 << 20;
  // When the upstream forgets a session (404 to a request carrying its id),
  // initialize a new one under the same handle and send again the requests it
  // refused (SM-06); off: the session ends with NOT_FOUND. Default: on.
  bool session_recovery = true;
  // When the upstream answers the initialize POST with 400, 404 or 405 and no
  // JSON-RPC error, try the legacy HTTP+SSE transport of 2024-11-05 at the
  // same URL (LG-02). Default: on.
  bool legacy_sse_fallback = true;
  // When a backend pins no protocol version, ask with server/discover
  // (2026-07-28) before initialize, and fall back to initialize unless the
  // answer is the modern era's (VN-11): a dual-era upstream then gets the
  // newest era both sides speak. An endpoint found to speak only the session
  // era is remembered and not asked again. Default: on.
  bool prefer_modern_era = true;

  // ----------------------------------------------------------------------
  // Threads

  // Asio I/O threads for upstream and admin traffic. 0 means half the cores
  // the process may run on, at least 1 (gRPC has threads of its own).
  // Default: 0.
  int io_threads = 0;

  // ----------------------------------------------------------------------
  // TLS to upstreams

  // https upstreams are always verified against the system CA bundle plus
  // these settings; http upstreams ignore them.
  // PEM file of extra CAs to trust (a private PKI). Default: empty.
  std::string tls_ca_file;
  // PEM client certificate chain and its unencrypted key, for upstreams that
  // require mTLS. Both or neither. Default: empty.
  std::string tls_client_cert_file;
  std::string tls_client_key_file;
  // Lowest TLS version offered: "1.2" or "1.3". Default: "1.2".
  std::string tls_min_version = "1.2";
};

// True for a grpc_listen/admin_listen address only this host can reach:
// 127.0.0.0/8, [::1], localhost or a unix: socket.
bool IsLoopbackAddress(const std::string& host_port);

// OK, or InvalidArgument naming the first bad field; FailedPrecondition when a
// TLS or token file cannot be read (server.cc's TlsContext::Create then checks
// that it parses).
absl::Status ValidateConfig(const Config& config);

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_CONFIG_CONFIG_H_
