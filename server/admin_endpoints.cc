#include "server/admin_endpoints.h"

#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace shadowcat {

HttpServerOptions AdminHttpOptions() {
  HttpServerOptions options;
  options.request_timeout = absl::Seconds(10);
  options.idle_timeout = absl::Seconds(30);
  options.max_connections = 64;
  options.max_header_bytes = 8 << 10;
  options.max_body_bytes = 1 << 10;
  return options;
}

std::string AdminExposition(ShadowcatMetrics& metrics,
                            const ProcessMetrics* process) {
  std::vector<prometheus::MetricFamily> families = metrics.registry().Collect();
  if (process != nullptr) {
    std::vector<prometheus::MetricFamily> more = process->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

HttpHandler MakeAdminHandler(ShadowcatMetrics& metrics,
                             const ProcessMetrics* process,
                             const std::atomic<bool>& ready) {
  return [&metrics, process, &ready](
             HttpServerRequest request,
             std::shared_ptr<HttpResponseWriter> writer) {
    const std::string path = request.target.substr(0, request.target.find('?'));
    const HttpHeaders text = {{"Content-Type", "text/plain; charset=utf-8"}};
    if (request.method != "GET" && request.method != "HEAD") {
      writer->SendFull(405, {{"Allow", "GET"}}, "method not allowed\n");
    } else if (path == "/metrics") {
      writer->SendFull(
          200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}},
          AdminExposition(metrics, process));
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
