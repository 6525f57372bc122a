// Keeps scripts/bench.sh working: runs the call_figures driver once with tiny
// counts (every upstream, the SDK server included) and checks that its JSON is
// well-formed and complete and that no call failed. Not a timed test: no
// figure's size is checked.

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/json/parse.hpp"
#include "gtest/gtest.h"
#include "tests/fakes/child_process.h"
#include "tests/interop/interop_paths.h"

namespace shadowcat {
namespace {

std::vector<std::string> ExpectedFigures() {
  std::vector<std::string> names = {
      "stream/callstream/s1/events_per_s",
      "stream/callstream/s16/events_per_s",
      "start/ready_ms",
      "sessions/rss_empty_mb",
      "sessions/idle20/rss_mb",
      "sessions/idle20/kb_per_session",
      "memory/get_stream20/rss_mb",
      "memory/get_stream20/kb_per_session",
      "memory/callstream20/rss_mb",
      "memory/callstream20/kb_per_callstream",
  };
  for (const char* upstream : {"demo", "sdk_sse", "sdk_json"}) {
    for (int callers : {1, 2}) {
      for (const char* figure :
           {"p50_us", "p95_us", "p99_us", "p50_vs_direct_us",
            "p95_vs_direct_us", "calls_per_s", "calls_per_s_vs_direct",
            "cpu_us_per_call", "ctx_switches_per_call",
            "new_upstream_conns_per_call", "failures"}) {
        names.push_back(
            absl::StrCat("call/", upstream, "/c", callers, "/", figure));
      }
    }
  }
  return names;
}

TEST(BenchSmokeTest, DriverWritesEveryFigure) {
  absl::StatusOr<std::string> driver = Runfile("tests/bench/call_figures");
  ASSERT_TRUE(driver.ok()) << driver.status();
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string out =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/bench-smoke.json");
  auto child = ChildProcess::Start({*driver, absl::StrCat("--out=", out),
                                    "--rounds=1", "--calls=20", "--callers=1,2",
                                    "--stream_events=50", "--sessions=20"});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> wait_status = (*child)->Wait(absl::Minutes(4));
  ASSERT_TRUE(wait_status.ok()) << wait_status.status();
  ASSERT_TRUE(WIFEXITED(*wait_status) && WEXITSTATUS(*wait_status) == 0)
      << "driver wait status " << *wait_status;

  std::ifstream json_file(out);
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(
      std::string(std::istreambuf_iterator<char>(json_file), {}), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.at("schema").to_number<int>(), 1);
  std::set<std::string> seen;
  for (const boost::json::value& figure : doc.at("figures").as_array()) {
    const std::string name(figure.at("name").as_string());
    EXPECT_TRUE(seen.insert(name).second) << "twice: " << name;
    const double value = figure.at("value").to_number<double>();
    EXPECT_TRUE(std::isfinite(value) && value >= 0) << name;
    const std::string better(figure.at("better").as_string());
    EXPECT_TRUE(better == "lower" || better == "higher") << name;
    if (!figure.at("baseline_name").is_null()) {
      EXPECT_GT(figure.at("baseline").to_number<double>(), 0) << name;
      EXPECT_TRUE(figure.at("ratio").is_number()) << name;
    }
    if (name.size() > 9 && name.substr(name.size() - 9) == "/failures") {
      EXPECT_EQ(value, 0) << name;
    }
  }
  for (const std::string& name : ExpectedFigures()) {
    EXPECT_TRUE(seen.count(name) == 1) << "missing: " << name;
  }
}

}  // namespace
}  // namespace shadowcat
