// shadowcat: the MCP sidecar. Flags (and SHADOWCAT_<FLAG> environment
// variables, which Kubernetes sets easily; or a --flagfile) fill core's
// Config; the rest is wiring and signal handling.
//
// Upstreams (server/startup_policy.h): a bare `shadowcat` (no flag, no
// SHADOWCAT_* variable) is the demo: it starts the built-in MCP upstream on
// loopback, allows only that, and says so loudly on stderr. Any configured run
// must name its upstreams with --allowed_upstreams (or ask for the demo with
// --demo_upstream); an empty allowlist is a start-up error, never a silent
// demo in production.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/log.h"
#include "server/server.h"
#include "server/startup_policy.h"

namespace {
const shadowcat::Config kDefaults;
}  // namespace

ABSL_FLAG(std::string, grpc_listen, kDefaults.grpc_listen,
          "gRPC API address (host:port).");
ABSL_FLAG(std::string, admin_listen, kDefaults.admin_listen,
          "Admin HTTP address for /metrics, /healthz and /readyz (host:port).");
ABSL_FLAG(std::string, grpc_tls_cert_file, "",
          "PEM certificate chain of the gRPC listener; with "
          "--grpc_tls_key_file turns TLS on. Re-read when it changes.");
ABSL_FLAG(std::string, grpc_tls_key_file, "",
          "PEM private key (unencrypted) of --grpc_tls_cert_file.");
ABSL_FLAG(std::string, grpc_tls_client_ca_file, "",
          "PEM CA bundle; callers must present a client certificate it "
          "signed (mTLS). Needs --grpc_tls_cert_file.");
ABSL_FLAG(std::string, grpc_token_file, "",
          "File holding the bearer token gRPC callers must send as "
          "'authorization: Bearer <token>'; re-read when it changes. The "
          "health service needs none.");
ABSL_FLAG(absl::Duration, grpc_credentials_reload_interval,
          kDefaults.grpc_credentials_reload_interval,
          "How often the gRPC TLS files and token file are checked for "
          "changes.");
ABSL_FLAG(bool, allow_unauthenticated_grpc_beyond_loopback,
          kDefaults.allow_unauthenticated_grpc_beyond_loopback,
          "Serve the gRPC API on a non-loopback --grpc_listen with neither "
          "TLS nor a token. Without it, start-up refuses that address.");
ABSL_FLAG(std::vector<std::string>, allowed_upstreams, {},
          "Comma-separated upstream URL prefixes backends may open sessions "
          "to. Required unless --demo_upstream is given (or shadowcat runs "
          "bare, as the demo): an empty list is a start-up error.");
ABSL_FLAG(bool, demo_upstream, false,
          "Start the built-in demo MCP upstream on 127.0.0.1:--demo_port and "
          "allow it (besides --allowed_upstreams). On by itself only when "
          "shadowcat runs with no flag and no SHADOWCAT_* variable.");
ABSL_FLAG(uint16_t, demo_port, 8931,
          "Port of the built-in demo upstream on 127.0.0.1.");
ABSL_FLAG(size_t, max_sessions, kDefaults.max_sessions,
          "Open sessions across all backends.");
ABSL_FLAG(size_t, max_connections_per_session,
          kDefaults.max_connections_per_session,
          "Upstream requests in flight per session.");
ABSL_FLAG(size_t, max_connections_total, kDefaults.max_connections_total,
          "Upstream requests in flight across all sessions.");
ABSL_FLAG(size_t, read_buffer_bytes, kDefaults.read_buffer_bytes,
          "Socket read size.");
ABSL_FLAG(size_t, max_message_bytes, kDefaults.max_message_bytes,
          "Largest JSON response or SSE event accepted from an upstream.");
ABSL_FLAG(absl::Duration, connect_timeout, kDefaults.connect_timeout,
          "Upstream TCP connect.");
ABSL_FLAG(absl::Duration, request_timeout, kDefaults.request_timeout,
          "Deadline of calls that carry none.");
ABSL_FLAG(absl::Duration, read_timeout, kDefaults.read_timeout,
          "Longest silence on an upstream response stream.");
ABSL_FLAG(absl::Duration, close_timeout, kDefaults.close_timeout,
          "Bound on the DELETE sent when a session closes.");
ABSL_FLAG(absl::Duration, idle_session_timeout, kDefaults.idle_session_timeout,
          "Sessions unused this long are closed.");
ABSL_FLAG(absl::Duration, reconnect_base_delay, kDefaults.reconnect_base_delay,
          "First delay before resuming a dropped SSE stream when the server "
          "sent no retry: (doubled per reconnect without progress).");
ABSL_FLAG(absl::Duration, reconnect_max_delay, kDefaults.reconnect_max_delay,
          "Largest reconnect delay without a server retry:.");
ABSL_FLAG(double, reconnect_jitter, kDefaults.reconnect_jitter,
          "Relative jitter of reconnect delays, 0..1.");
ABSL_FLAG(int, reconnect_max_attempts, kDefaults.reconnect_max_attempts,
          "Reconnects in a row without a new SSE event before a stream "
          "fails.");
ABSL_FLAG(size_t, stream_queue_bytes, kDefaults.stream_queue_bytes,
          "Bytes a gRPC stream holds for a slow backend before Shadowcat "
          "stops reading the upstream (backpressure).");
ABSL_FLAG(absl::Duration, stream_stall_timeout, kDefaults.stream_stall_timeout,
          "A stream whose backend reads nothing this long fails; 0 = never.");
ABSL_FLAG(absl::Duration, server_request_timeout,
          kDefaults.server_request_timeout,
          "A server request (sampling, elicitation, roots) no backend answers "
          "within this gets a JSON-RPC error reply.");
ABSL_FLAG(size_t, subscribe_buffer_messages,
          kDefaults.subscribe_buffer_messages,
          "Server messages kept per session for Subscribe's after_sequence.");
ABSL_FLAG(size_t, subscribe_buffer_bytes, kDefaults.subscribe_buffer_bytes,
          "Bytes of server messages kept per session for re-subscription.");
ABSL_FLAG(bool, session_recovery, kDefaults.session_recovery,
          "On a 404 for a session id, re-initialize under the same handle "
          "and resend the requests the upstream refused (SM-06).");
ABSL_FLAG(bool, legacy_sse_fallback, kDefaults.legacy_sse_fallback,
          "When the upstream answers the initialize POST with 400, 404 or 405 "
          "(and no JSON-RPC error), try the legacy HTTP+SSE transport "
          "(2024-11-05) at the same URL: GET it, POST to its `endpoint`.");
ABSL_FLAG(bool, prefer_modern_era, kDefaults.prefer_modern_era,
          "When the backend pins no protocol version, try server/discover "
          "(2026-07-28) before initialize and fall back to initialize unless "
          "the answer is modern (VN-11).");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(20),
          "On SIGTERM, how long calls in flight may take to finish.");
ABSL_FLAG(int, io_threads, kDefaults.io_threads,
          "Asio I/O threads; 0 = half the cores (at least 1).");
ABSL_FLAG(std::string, log_level, "info",
          "Lowest level logged: debug, info, warning or error.");
ABSL_FLAG(std::string, log_format, "text",
          "Log line format on stderr: text, json (one object per line) or "
          "logfmt. Secrets (credential headers, URL userinfo and query, "
          "session ids) are never logged.");
ABSL_FLAG(bool, verbose, false, "Same as --log_level=debug.");
ABSL_FLAG(std::string, upstream_ca_file, kDefaults.tls_ca_file,
          "PEM file of extra CAs trusted for https upstreams (the system "
          "bundle is always trusted).");
ABSL_FLAG(std::string, upstream_client_cert_file,
          kDefaults.tls_client_cert_file,
          "PEM client certificate chain for https upstreams that require "
          "mTLS (with --upstream_client_key_file).");
ABSL_FLAG(std::string, upstream_client_key_file, kDefaults.tls_client_key_file,
          "PEM private key (unencrypted) of --upstream_client_cert_file.");
ABSL_FLAG(std::string, upstream_tls_min_version, kDefaults.tls_min_version,
          "Lowest TLS version offered to https upstreams: 1.2 or 1.3.");

namespace {

// SHADOWCAT_<FLAG_NAME> sets a flag unless the command line set it (12-factor
// config).
void ApplyEnvironment() {
  for (auto& [name, flag] : absl::GetAllFlags()) {
    std::string env = absl::StrCat("SHADOWCAT_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(env.c_str());
    if (value == nullptr || flag->CurrentValue() != flag->DefaultValue())
      continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::cerr << "shadowcat: " << env << ": " << error << "\n";
      std::exit(2);
    }
  }
}

// A SHADOWCAT_* variable that names no flag is most likely a typo that leaves
// a setting at its default: warn, naming it. (Not fatal: other tools in the
// pod may share the prefix.)
void WarnUnknownVariables(const std::vector<std::string>& variables) {
  std::vector<std::string> flag_names;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    flag_names.emplace_back(name);
  }
  for (const std::string& variable :
       shadowcat::UnknownShadowcatVariables(variables, flag_names)) {
    SC_LOG(kWarning, "environment variable ", variable,
           " matches no flag and is ignored (see shadowcat --help)");
  }
}

// Exits with a message naming the flag when a value is not one of its names.
void ConfigureLogging() {
  absl::StatusOr<shadowcat::LogLevel> level =
      shadowcat::ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  absl::StatusOr<shadowcat::LogFormat> format =
      shadowcat::ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!level.ok() || !format.ok()) {
    std::cerr << "shadowcat: "
              << (level.ok()
                      ? absl::StrCat("--log_format: ",
                                     format.status().message())
                      : absl::StrCat("--log_level: ", level.status().message()))
              << "\n";
    std::exit(2);
  }
  shadowcat::SetLogFormat(*format);
  shadowcat::SetMinLogLevel(
      absl::GetFlag(FLAGS_verbose) ? shadowcat::LogLevel::kDebug : *level);
}

shadowcat::Config ConfigFromFlags() {
  shadowcat::Config c;
  c.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  c.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  c.grpc_tls_cert_file = absl::GetFlag(FLAGS_grpc_tls_cert_file);
  c.grpc_tls_key_file = absl::GetFlag(FLAGS_grpc_tls_key_file);
  c.grpc_tls_client_ca_file = absl::GetFlag(FLAGS_grpc_tls_client_ca_file);
  c.grpc_token_file = absl::GetFlag(FLAGS_grpc_token_file);
  c.grpc_credentials_reload_interval =
      absl::GetFlag(FLAGS_grpc_credentials_reload_interval);
  c.allow_unauthenticated_grpc_beyond_loopback =
      absl::GetFlag(FLAGS_allow_unauthenticated_grpc_beyond_loopback);
  c.allowed_upstreams = absl::GetFlag(FLAGS_allowed_upstreams);
  c.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  c.max_connections_per_session =
      absl::GetFlag(FLAGS_max_connections_per_session);
  c.max_connections_total = absl::GetFlag(FLAGS_max_connections_total);
  c.read_buffer_bytes = absl::GetFlag(FLAGS_read_buffer_bytes);
  c.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  c.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  c.request_timeout = absl::GetFlag(FLAGS_request_timeout);
  c.read_timeout = absl::GetFlag(FLAGS_read_timeout);
  c.close_timeout = absl::GetFlag(FLAGS_close_timeout);
  c.idle_session_timeout = absl::GetFlag(FLAGS_idle_session_timeout);
  c.reconnect_base_delay = absl::GetFlag(FLAGS_reconnect_base_delay);
  c.reconnect_max_delay = absl::GetFlag(FLAGS_reconnect_max_delay);
  c.reconnect_jitter = absl::GetFlag(FLAGS_reconnect_jitter);
  c.reconnect_max_attempts = absl::GetFlag(FLAGS_reconnect_max_attempts);
  c.stream_queue_bytes = absl::GetFlag(FLAGS_stream_queue_bytes);
  c.stream_stall_timeout = absl::GetFlag(FLAGS_stream_stall_timeout);
  c.server_request_timeout = absl::GetFlag(FLAGS_server_request_timeout);
  c.subscribe_buffer_messages = absl::GetFlag(FLAGS_subscribe_buffer_messages);
  c.subscribe_buffer_bytes = absl::GetFlag(FLAGS_subscribe_buffer_bytes);
  c.session_recovery = absl::GetFlag(FLAGS_session_recovery);
  c.legacy_sse_fallback = absl::GetFlag(FLAGS_legacy_sse_fallback);
  c.prefer_modern_era = absl::GetFlag(FLAGS_prefer_modern_era);
  c.io_threads = absl::GetFlag(FLAGS_io_threads);
  c.tls_ca_file = absl::GetFlag(FLAGS_upstream_ca_file);
  c.tls_client_cert_file = absl::GetFlag(FLAGS_upstream_client_cert_file);
  c.tls_client_key_file = absl::GetFlag(FLAGS_upstream_client_key_file);
  c.tls_min_version = absl::GetFlag(FLAGS_upstream_tls_min_version);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<absl::string_view> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  const std::vector<std::string> variables =
      shadowcat::ShadowcatVariables(environment);
  const bool bare_invocation = argc == 1 && variables.empty();
  absl::SetProgramUsageMessage(
      "Shadowcat: a gRPC sidecar for remote MCP servers.\n"
      "  shadowcat                      # demo: no flag and no SHADOWCAT_* "
      "variable serves a built-in MCP upstream and allows only it\n"
      "  shadowcat --allowed_upstreams=http://mcp.internal:8080/mcp\n"
      "Every flag can also be set as SHADOWCAT_<FLAG> (the command line "
      "wins) or in a --flagfile (one --flag=value per line). An empty "
      "--allowed_upstreams without --demo_upstream stops start-up.");
  absl::ParseCommandLine(argc, argv);
#ifdef NDEBUG
  // Debian builds Abseil without NDEBUG, so every Mutex lock would feed its
  // deadlock graph (a few % of a call's CPU). Test builds keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  ApplyEnvironment();
  ConfigureLogging();
  WarnUnknownVariables(variables);

  // Block the stop signals before any thread starts, so only sigwait below sees
  // them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  shadowcat::Config config = ConfigFromFlags();
  absl::StatusOr<shadowcat::UpstreamPlan> plan = shadowcat::PlanUpstreams(
      bare_invocation, config.allowed_upstreams.empty(),
      absl::GetFlag(FLAGS_demo_upstream));
  if (!plan.ok()) {
    SC_LOG(kError, "cannot start: ", plan.status().message());
    return 2;
  }
  if (plan->implicit_demo) {
    SC_LOG(kWarning,
           "DEMO MODE: started with no flag and no SHADOWCAT_* variable, so "
           "the built-in demo upstream runs and is the ONLY upstream allowed. "
           "A deployment names its upstreams with --allowed_upstreams.");
  }
  shadowcat::ServerOptions options;
  options.demo_upstream = plan->demo_upstream;
  options.demo_port = absl::GetFlag(FLAGS_demo_port);
  auto server = shadowcat::Server::Start(config, options);
  if (!server.ok()) {
    SC_LOG(kError, "cannot start: ", server.status().message());
    return 1;
  }
  SC_LOG(kInfo, "shadowcat serving gRPC on ",
         config.grpc_listen.substr(0, config.grpc_listen.rfind(':')), ":",
         (*server)->grpc_port(), ", admin on port ", (*server)->admin_port());
  if (options.demo_upstream) {
    const std::string target =
        absl::StrCat("127.0.0.1:", (*server)->grpc_port());
    std::cout << "\nDemo upstream (built-in MCP server): "
              << (*server)->demo_upstream_url()
              << "\nTry it from another terminal:\n"
              << "  bazel-bin/server/shadowcat-cli --target=" << target
              << " demo " << (*server)->demo_upstream_url() << "\n"
              << "or step by step:\n"
              << "  bazel-bin/server/shadowcat-cli --target=" << target
              << " open " << (*server)->demo_upstream_url() << "\n"
              << "  bazel-bin/server/shadowcat-cli --target=" << target
              << " call SESSION tools/list\n"
              << "  bazel-bin/server/shadowcat-cli --target=" << target
              << " call SESSION tools/call "
                 "'{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}'\n"
              << "  bazel-bin/server/shadowcat-cli --target=" << target
              << " close SESSION\n"
              << "Metrics: http://127.0.0.1:" << (*server)->admin_port()
              << "/metrics\n"
              << std::endl;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  SC_LOG(kInfo, "signal ", signal_number, ": draining");
  (*server)->Drain(absl::GetFlag(FLAGS_drain_grace));
  server->reset();
  SC_LOG(kInfo, "shadowcat stopped");
  return 0;
}
