#ifndef SHADOWCAT_TESTS_SERVER_RAW_CLIENT_H_
#define SHADOWCAT_TESTS_SERVER_RAW_CLIENT_H_

// A raw TCP client on POSIX sockets for tests that misbehave on purpose (send
// half a request, hold connections open) and need bounded waits for what the
// server does: every read has a deadline (poll), so a server that never
// closes fails the test instead of hanging it.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace shadowcat {

class RawClient {
 public:
  // Connects to 127.0.0.1:`port`; connected() tells whether it worked.
  explicit RawClient(uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of `data`; false on error.
  bool Send(absl::string_view data);
  // Reads until `data()` contains `needle`, the peer closes or `timeout`
  // passes. True when `needle` arrived.
  bool ReadUntil(absl::string_view needle, absl::Duration timeout);
  // Reads (discarding nothing) until the peer closes (EOF or reset): true, or
  // `timeout` passes: false.
  bool WaitForClose(absl::Duration timeout);
  const std::string& data() const { return data_; }
  void Close();

 private:
  // One poll + recv; -1 on timeout, 0 on EOF/error, else bytes read.
  int ReadSome(absl::Duration timeout);

  int fd_ = -1;
  std::string data_;
};

// "GET `path` HTTP/1.1" with keep-alive, complete.
std::string GetRequest(absl::string_view path);

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_SERVER_RAW_CLIENT_H_
