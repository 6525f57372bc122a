#include "tests/bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shadowcat {
namespace {

// Names and units are ours (no quotes or backslashes), so no escaping.
std::string Number(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.6g", value);
}

bool HasRatio(const Figure& figure) {
  return !figure.baseline_name.empty() && figure.baseline != 0;
}

}  // namespace

void BenchReport::Add(Figure figure) {
  std::string line = absl::StrFormat("%-44s %12.6g %-8s", figure.name,
                                     figure.value, figure.unit);
  if (HasRatio(figure)) {
    absl::StrAppendFormat(&line, " %-14s %12.6g  x%.3f", figure.baseline_name,
                          figure.baseline, figure.value / figure.baseline);
  }
  std::cout << line << std::endl;
  figures_.push_back(std::move(figure));
}

void BenchReport::Add(std::string name, double value, std::string unit,
                      Better better) {
  Figure figure;
  figure.name = std::move(name);
  figure.value = value;
  figure.unit = std::move(unit);
  figure.better = better;
  Add(std::move(figure));
}

absl::Status BenchReport::WriteJson(const std::string& path) const {
  std::string json = "{\"schema\": 1, \"figures\": [";
  for (size_t i = 0; i < figures_.size(); ++i) {
    const Figure& f = figures_[i];
    absl::StrAppend(&json, i == 0 ? "\n  " : ",\n  ", "{\"name\": \"", f.name,
                    "\", \"value\": ", Number(f.value), ", \"unit\": \"",
                    f.unit, "\", \"better\": \"",
                    f.better == Better::kLower ? "lower" : "higher", "\", ");
    if (HasRatio(f)) {
      absl::StrAppend(&json, "\"baseline_name\": \"", f.baseline_name,
                      "\", \"baseline\": ", Number(f.baseline),
                      ", \"ratio\": ", Number(f.value / f.baseline), "}");
    } else {
      absl::StrAppend(&json,
                      "\"baseline_name\": null, \"baseline\": null, "
                      "\"ratio\": null}");
    }
  }
  json += "\n]}\n";
  std::ofstream out(path);
  out << json;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

double Quantile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return samples[std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double Median(std::vector<double> values) { return Quantile(values, 0.5); }

}  // namespace shadowcat
