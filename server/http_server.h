#ifndef SHADOWCAT_SERVER_HTTP_SERVER_H_
#define SHADOWCAT_SERVER_HTTP_SERVER_H_

// A small HTTP/1.1 server on Boost.Beast, shared by the admin endpoints, the
// built-in demo MCP upstream and the tests' fake MCP server, so the three are
// written once.
//
// Threading: the server runs on the io_context given to Start() (any number of
// threads may run it). Each connection lives on its own strand; the handler is
// invoked on that strand and must not block. ResponseWriter methods may be
// called from any thread: they post to the connection's strand. Keep-alive is
// supported; requests on one connection are served in order (the next request
// is read only after the previous response ended).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "core/http/header_list.h"

namespace shadowcat {

using HttpHeaders = HeaderList;

struct HttpServerRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  HttpHeaders headers;
  std::string body;
  // Identifies the TCP connection the request came on (unique within one
  // server), so keep-alive reuse is observable in tests and logs.
  uint64_t connection_id = 0;
  // Case-insensitive lookup of the first header named `name`; empty when
  // absent.
  std::string Header(absl::string_view name) const;
};

// Writes one response. Exactly one of SendFull() or StartStream() is called
// first; after StartStream(), any number of WriteChunk() calls, then
// EndStream() (or Abort()).
class HttpResponseWriter {
 public:
  virtual ~HttpResponseWriter() = default;
  // A complete response with Content-Length.
  virtual void SendFull(int status, HttpHeaders headers, std::string body) = 0;
  // Starts a chunked (streaming) response, e.g. text/event-stream.
  virtual void StartStream(int status, HttpHeaders headers) = 0;
  // Queues `data` to be written as one chunk. `on_written` (optional) runs on
  // the connection's strand once the chunk reached the socket, with false if
  // the connection closed first. A reader that stops reading makes chunks
  // queue; callers that stream a lot should wait for on_written before sending
  // more. An empty `data` writes nothing but still runs `on_written` in order:
  // a way to learn that everything before it (the head included) was sent.
  virtual void WriteChunk(
      std::string data, std::function<void(bool ok)> on_written = nullptr) = 0;
  // Ends the chunked response (final zero-size chunk); the connection may be
  // reused.
  virtual void EndStream() = 0;
  // Closes the connection at once, mid-response if need be (fault injection,
  // shutdown).
  virtual void Abort() = 0;
  // True once the peer disconnected or Abort()/EndStream() ran.
  virtual bool closed() const = 0;

  // Optional extensions, mainly for fault injection. The defaults keep other
  // implementations source-compatible.

  // Like Abort(), but the peer sees a TCP reset instead of a clean close
  // (SO_LINGER 0, no FIN first).
  virtual void AbortWithReset() { Abort(); }
  // Runs `on_close` once, on the connection's strand, if the connection
  // closes before this response ended normally: the peer went away, Abort(),
  // AbortWithReset() or HttpServer::Stop(). Never runs after a normal end, and
  // runs soon when the connection is already closed. Lets a streaming handler
  // that is not writing learn that its client left. Replaces an earlier
  // callback. Default: never runs.
  virtual void NotifyOnClose(std::function<void()> on_close) {}
  // Sets SO_SNDBUF on the connection (which also stops the kernel from growing
  // it), so a reader that stops reading blocks the writer after a few KiB
  // rather than megabytes. Default: ignored.
  virtual void SetSendBufferBytes(int bytes) {}
};

struct HttpServerOptions {
  // Requests with a larger body get 413. Default: 4 MiB.
  size_t max_body_bytes = 4 << 20;
  // Requests with larger headers get 431. Default: 16 KiB.
  size_t max_header_bytes = 16 << 10;
  // Time allowed to receive one whole request (head and body), counted from
  // its first byte (or, on a new connection, from the accept). A client that
  // is slower (slowloris) has its connection closed without a reply. Default:
  // no limit.
  absl::Duration request_timeout = absl::InfiniteDuration();
  // How long a keep-alive connection may wait for the first byte of its next
  // request before it is closed. Default: no limit.
  absl::Duration idle_timeout = absl::InfiniteDuration();
  // Open connections at most; a connection accepted beyond it is closed at
  // once, before anything is read. 0 means no cap (the default).
  size_t max_connections = 0;
};

using HttpHandler = std::function<void(
    HttpServerRequest request, std::shared_ptr<HttpResponseWriter> writer)>;

class HttpServer {
 public:
  // Binds `address`:`port` (port 0 picks a free port) and starts accepting on
  // `ioc`. Returns InvalidArgument for a bad address and Unavailable when
  // binding fails.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      boost::asio::io_context& ioc, const std::string& address, uint16_t port,
      HttpHandler handler, HttpServerOptions options = {});

  virtual ~HttpServer() = default;
  // The port actually bound.
  virtual uint16_t port() const = 0;
  // Stops accepting and closes every open connection. Idempotent; callable from
  // any thread. In-flight handlers may still call their writers: those calls
  // are ignored.
  virtual void Stop() = 0;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_HTTP_SERVER_H_
