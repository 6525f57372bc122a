#ifndef SHADOWCAT_TESTS_FAKES_BLOCKING_HTTP_CLIENT_H_
#define SHADOWCAT_TESTS_FAKES_BLOCKING_HTTP_CLIENT_H_

// A plain blocking HTTP/1.1 client for tests of our own HTTP servers (demo
// upstream, fake MCP server): one request per fresh connection to 127.0.0.1,
// with an overall deadline. Being independent of core/http keeps those tests
// from trusting the client under test.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/json/value.hpp"
#include "server/http_server.h"

namespace shadowcat {

struct TestHttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;  // de-chunked
  // False when the connection dropped after the head, before the body ended;
  // `body` then holds what arrived.
  bool complete = true;
  // Case-insensitive lookup of the first header named `name`; empty when
  // absent.
  std::string Header(absl::string_view name) const;
};

struct TestHttpRequest {
  std::string method = "POST";
  std::string target = "/mcp";
  HttpHeaders headers;  // Host and Content-Length are added
  std::string body;
  // For the whole exchange.
  absl::Duration timeout = absl::Seconds(10);
  // Notified once the response head has been read, while the body may still
  // stream.
  absl::Notification* head_read = nullptr;
};

// Sends one request to 127.0.0.1:`port` and reads the whole response. Errors:
// Unavailable when connecting, sending or reading the response head fails,
// DeadlineExceeded when the timeout passes before the head arrived.
absl::StatusOr<TestHttpResponse> SendTestHttpRequest(
    uint16_t port, const TestHttpRequest& request);

// POSTs `body` to /mcp as an MCP client would (Content-Type application/json,
// Accept application/json and text/event-stream), plus `headers`.
absl::StatusOr<TestHttpResponse> PostMcp(uint16_t port, absl::string_view body,
                                         HttpHeaders headers = {});

// PostMcp() for tests that only look at the response: a transport error fails
// the running test and yields an empty response (status 0).
TestHttpResponse PostMcpOrFail(uint16_t port, absl::string_view body,
                               HttpHeaders headers = {});

// `text` parsed as JSON; text that is not JSON fails the running test and
// yields null.
boost::json::value JsonOrFail(absl::string_view text);

// The `data` of each event in an SSE body, in order (multi-line data joined
// with "\n"). Enough for the bodies our servers write: LF line ends, no
// comments split across reads.
std::vector<std::string> SseEventData(absl::string_view body);

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_FAKES_BLOCKING_HTTP_CLIENT_H_
