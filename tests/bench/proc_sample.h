#ifndef SHADOWCAT_TESTS_BENCH_PROC_SAMPLE_H_
#define SHADOWCAT_TESTS_BENCH_PROC_SAMPLE_H_

// What a benchmark reads about another process from /proc, so the cost of the
// process under test is measured apart from the load driver's own: CPU time
// and context switches summed over all its threads, and the TCP connections to
// a port (new connections per call). Linux only; no locks, no threads.

#include <sys/types.h>

#include <cstdint>
#include <set>

namespace shadowcat {

struct ProcSample {
  double cpu_us = 0;               // utime + stime of the whole process
  int64_t voluntary_switches = 0;  // summed over /proc/<pid>/task/*
  int64_t involuntary_switches = 0;
  int64_t rss_kb = 0;  // VmRSS
  int64_t switches() const { return voluntary_switches + involuntary_switches; }
};

// Reads /proc/`pid`; zeros when the process is gone. Threads that exited
// between two samples lose their switches (the servers measured keep theirs).
ProcSample SampleProcess(pid_t pid);

// The client ports of every TCP connection to 127.0.0.1:`port` the kernel
// still knows (established, closing or in TIME_WAIT, which lasts 60 s), from
// /proc/net/tcp. Two samples around a load give the connections it opened:
// the port is this run's own, so other processes on the machine do not count.
std::set<uint16_t> TcpClientPorts(uint16_t port);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, then
// released): for children whose bound port cannot be read back.
uint16_t FreeLoopbackPort();

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_BENCH_PROC_SAMPLE_H_
