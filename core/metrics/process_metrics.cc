#include "core/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace shadowcat {
namespace {

// The fields of /proc/self/stat that we use (proc(5) numbering).
struct ProcStat {
  double utime_ticks = 0;      // (14)
  double stime_ticks = 0;      // (15)
  double starttime_ticks = 0;  // (22) since boot
  double vsize_bytes = 0;      // (23)
  double rss_pages = 0;        // (24)
};

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<ProcStat> ReadProcStat() {
  std::optional<std::string> text = ReadFile("/proc/self/stat");
  if (!text.has_value()) return std::nullopt;
  // The command name (2) is in parentheses and may hold spaces: split after
  // the last ')'. The first field after it is (3) state.
  const size_t paren = text->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(*text).substr(paren + 1), ' ', absl::SkipWhitespace());
  // fields[0] is field (3), so field (n) is fields[n - 3].
  auto field = [&fields](int n, double* out) {
    const size_t i = static_cast<size_t>(n - 3);
    return i < fields.size() && absl::SimpleAtod(fields[i], out);
  };
  ProcStat stat;
  if (!field(14, &stat.utime_ticks) || !field(15, &stat.stime_ticks) ||
      !field(22, &stat.starttime_ticks) || !field(23, &stat.vsize_bytes) ||
      !field(24, &stat.rss_pages)) {
    return std::nullopt;
  }
  return stat;
}

// The "btime" line of /proc/stat: boot time in Unix seconds.
std::optional<double> ReadBootTime() {
  std::optional<std::string> text = ReadFile("/proc/stat");
  if (!text.has_value()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double btime = 0;
      if (absl::SimpleAtod(line, &btime)) return btime;
    }
  }
  return std::nullopt;
}

std::optional<double> CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  // The descriptor opendir() held while counting is not the process's own.
  return count - 1;
}

prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

double ClockTicksPerSecond() {
  const long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<double>(ticks) : 100.0;
}

}  // namespace

ProcessMetrics::ProcessMetrics() : start_time_seconds_(-1) {
  std::optional<ProcStat> stat = ReadProcStat();
  std::optional<double> boot = ReadBootTime();
  if (stat.has_value() && boot.has_value()) {
    start_time_seconds_ = *boot + stat->starttime_ticks / ClockTicksPerSecond();
  }
}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  if (std::optional<ProcStat> stat = ReadProcStat(); stat.has_value()) {
    families.push_back(Family(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in "
        "seconds.",
        MetricType::Counter,
        (stat->utime_ticks + stat->stime_ticks) / ClockTicksPerSecond()));
    families.push_back(
        Family("process_resident_memory_bytes",
               "Resident memory size in bytes.", MetricType::Gauge,
               stat->rss_pages * static_cast<double>(sysconf(_SC_PAGESIZE))));
    families.push_back(Family("process_virtual_memory_bytes",
                              "Virtual memory size in bytes.",
                              MetricType::Gauge, stat->vsize_bytes));
  }
  if (std::optional<double> fds = CountOpenFds(); fds.has_value()) {
    families.push_back(Family("process_open_fds",
                              "Number of open file descriptors.",
                              MetricType::Gauge, *fds));
  }
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur != RLIM_INFINITY) {
    families.push_back(
        Family("process_max_fds", "Maximum number of open file descriptors.",
               MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  if (start_time_seconds_ >= 0) {
    families.push_back(
        Family("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.",
               MetricType::Gauge, start_time_seconds_));
  }
  return families;
}

}  // namespace shadowcat
