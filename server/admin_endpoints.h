#ifndef SHADOWCAT_SERVER_ADMIN_ENDPOINTS_H_
#define SHADOWCAT_SERVER_ADMIN_ENDPOINTS_H_

// The admin HTTP surface: /metrics (Prometheus text format), /healthz (the
// process is alive) and /readyz (ready for traffic: 503 while starting or
// draining).

#include <atomic>

#include "core/metrics/shadowcat_metrics.h"
#include "server/http_server.h"

namespace shadowcat {

// REQUIRES: `metrics` and `ready` outlive the returned handler.
HttpHandler MakeAdminHandler(ShadowcatMetrics& metrics,
                             const std::atomic<bool>& ready);

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_ADMIN_ENDPOINTS_H_
