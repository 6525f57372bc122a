#include "server/admin_endpoints.h"

#include <string>
#include <utility>

namespace shadowcat {

HttpHandler MakeAdminHandler(ShadowcatMetrics& metrics,
                             const std::atomic<bool>& ready) {
  return [&metrics, &ready](HttpServerRequest request,
                            std::shared_ptr<HttpResponseWriter> writer) {
    const std::string path = request.target.substr(0, request.target.find('?'));
    const HttpHeaders text = {{"Content-Type", "text/plain; charset=utf-8"}};
    if (request.method != "GET" && request.method != "HEAD") {
      writer->SendFull(405, {{"Allow", "GET"}}, "method not allowed\n");
    } else if (path == "/metrics") {
      writer->SendFull(
          200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}},
          metrics.Serialize());
    } else if (path == "/healthz") {
      writer->SendFull(200, text, "ok\n");
    } else if (path == "/readyz") {
      const bool is_ready = ready.load(std::memory_order_acquire);
      writer->SendFull(is_ready ? 200 : 503, text,
                       is_ready ? "ready\n" : "not ready\n");
    } else {
      writer->SendFull(404, text,
                       "not found: try /metrics, /healthz or /readyz\n");
    }
  };
}

}  // namespace shadowcat
