#ifndef SHADOWCAT_SERVER_ADMIN_ENDPOINTS_H_
#define SHADOWCAT_SERVER_ADMIN_ENDPOINTS_H_

// The admin HTTP surface: /metrics (Prometheus text format: every Shadowcat
// metric plus the standard process_* metrics), /healthz (the process is alive)
// and /readyz (ready for traffic: 503 while starting or draining).

#include <atomic>
#include <string>

#include "core/metrics/process_metrics.h"
#include "core/metrics/shadowcat_metrics.h"
#include "server/http_server.h"

namespace shadowcat {

// The admin listener's limits (review F10). Only probes and scrapers talk to
// it, with small GETs, so a slow or idle client is cut quickly and a flood of
// connections cannot take file descriptors from the data path:
//   request_timeout  10 s  to receive a whole request (slowloris)
//   idle_timeout     30 s  between keep-alive requests
//   max_connections  64    further connections are closed at once
//   max_header_bytes 8 KiB (431 beyond), max_body_bytes 1 KiB (413 beyond)
HttpServerOptions AdminHttpOptions();

// The /metrics body: `metrics` then, when not null, `process`.
std::string AdminExposition(ShadowcatMetrics& metrics,
                            const ProcessMetrics* process);

// REQUIRES: `metrics`, `process` (may be null) and `ready` outlive the
// returned handler.
HttpHandler MakeAdminHandler(ShadowcatMetrics& metrics,
                             const ProcessMetrics* process,
                             const std::atomic<bool>& ready);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_ADMIN_ENDPOINTS_H_
