#ifndef SHADOWCAT_TESTS_BENCH_BENCH_REPORT_H_
#define SHADOWCAT_TESTS_BENCH_BENCH_REPORT_H_

// The figures of one benchmark run, each beside the baseline measured in the
// same run and their ratio, printed as a table and written as JSON for
// scripts/bench_compare.py. Ratios, not absolute figures, are what compare
// across runs on a shared, noisy machine.
//
// JSON: {"schema": 1, "figures": [{"name", "value", "unit", "baseline_name",
// "baseline", "ratio", "better"}...]} where better is "lower" or "higher"
// (for the value, hence for the ratio) and a figure without a baseline has
// baseline and ratio null.
//
// Not thread-safe: one driver thread adds figures.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shadowcat {

enum class Better { kLower, kHigher };

struct Figure {
  std::string name;  // "call/demo/c8/shadowcat/p95_us"
  double value = 0;
  std::string unit;           // "us", "calls/s", ...
  std::string baseline_name;  // "direct+floor"; empty: no baseline
  double baseline = 0;
  Better better = Better::kLower;
};

class BenchReport {
 public:
  // Adds one figure and prints it as a line at once (a long run shows
  // progress).
  void Add(Figure figure);
  void Add(std::string name, double value, std::string unit,
           Better better = Better::kLower);

  const std::vector<Figure>& figures() const { return figures_; }

  // Writes the JSON document to `path`.
  absl::Status WriteJson(const std::string& path) const;

 private:
  std::vector<Figure> figures_;
};

// The `q`-quantile (0..1) of `samples` by nearest rank; 0 when empty. Sorts.
double Quantile(std::vector<double>& samples, double q);

// The median of `values`; 0 when empty.
double Median(std::vector<double> values);

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_BENCH_BENCH_REPORT_H_
