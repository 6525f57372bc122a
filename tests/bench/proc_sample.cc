#include "tests/bench/proc_sample.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace shadowcat {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number after "`key`:" in a /proc status file, or 0.
int64_t StatusField(const std::string& status, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) {
      continue;
    }
    line = absl::StripAsciiWhitespace(line);
    line = line.substr(0, line.find(' '));
    int64_t value = 0;
    return absl::SimpleAtoi(line, &value) ? value : 0;
  }
  return 0;
}

// The port of "0100007F:1F90" in /proc/net/tcp (hex).
uint16_t HexPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return 0;
  return static_cast<uint16_t>(std::strtoul(
      std::string(address.substr(colon + 1)).c_str(), nullptr, 16));
}

}  // namespace

ProcSample SampleProcess(pid_t pid) {
  ProcSample sample;
  const std::string dir = absl::StrCat("/proc/", pid);
  // Fields 14 and 15 (utime, stime) follow the parenthesized command name,
  // which may itself hold spaces: count from its closing parenthesis.
  const std::string stat = ReadFile(dir + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return sample;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ');
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
      absl::SimpleAtoi(fields[12], &stime)) {
    sample.cpu_us = 1e6 * static_cast<double>(utime + stime) /
                    static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  sample.rss_kb = StatusField(ReadFile(dir + "/status"), "VmRSS");
  // /proc/<pid>/status counts the main thread's switches only.
  if (DIR* tasks = opendir((dir + "/task").c_str())) {
    while (dirent* entry = readdir(tasks)) {
      if (entry->d_name[0] == '.') continue;
      const std::string status =
          ReadFile(absl::StrCat(dir, "/task/", entry->d_name, "/status"));
      sample.voluntary_switches +=
          StatusField(status, "voluntary_ctxt_switches");
      sample.involuntary_switches +=
          StatusField(status, "nonvoluntary_ctxt_switches");
    }
    closedir(tasks);
  }
  return sample;
}

std::set<uint16_t> TcpClientPorts(uint16_t port) {
  std::set<uint16_t> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    const std::string text = ReadFile(table);
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      std::vector<absl::string_view> columns =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (columns.size() < 3) continue;
      const uint16_t local = HexPort(columns[1]);
      const uint16_t remote = HexPort(columns[2]);
      if (remote == 0) continue;  // a listener
      if (local == port) ports.insert(remote);
      if (remote == port) ports.insert(local);
    }
  }
  return ports;
}

uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace shadowcat
