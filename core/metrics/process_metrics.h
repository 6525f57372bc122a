#ifndef SHADOWCAT_CORE_METRICS_PROCESS_METRICS_H_
#define SHADOWCAT_CORE_METRICS_PROCESS_METRICS_H_

// The standard Prometheus process metrics (the names every client library
// exports, so existing dashboards and alerts work):
//
//   process_cpu_seconds_total       counter  user + system CPU time
//   process_resident_memory_bytes   gauge    resident set size
//   process_virtual_memory_bytes    gauge    virtual memory size
//   process_open_fds                gauge    open file descriptors
//   process_max_fds                 gauge    the RLIMIT_NOFILE soft limit
//   process_start_time_seconds      gauge    start time, Unix seconds
//
// Read from /proc/self at collection (scrape) time, so nothing runs between
// scrapes. Linux only; a value that cannot be read is left out of the
// exposition rather than reported as 0.

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace shadowcat {

class ProcessMetrics : public prometheus::Collectable {
 public:
  // Reads the process start time once (it does not change).
  ProcessMetrics();

  // prometheus::Collectable:
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Unix seconds; negative when /proc could not be read.
  double start_time_seconds_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_METRICS_PROCESS_METRICS_H_
