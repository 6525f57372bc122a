#ifndef SHADOWCAT_CORE_HTTP_HTTP_CLIENT_H_
#define SHADOWCAT_CORE_HTTP_HTTP_CLIENT_H_

// Async HTTP/1.1 client over Boost.Beast with keep-alive connections per origin
// and streaming response bodies, to http:// and https:// upstreams (TLS through
// OpenSSL, peer always verified; see TlsContext). Response bodies are decoded
// as they stream (content_decoder.h), and same-origin redirects are followed
// when allowed (redirect_policy.h).
//
// Threading: Start() may be called from any thread. Every handler of one
// exchange runs on the executor passed to Start() (typically the owning
// session's strand), one at a time. No handler is called after on_done, and
// on_done is called exactly once (also on Cancel()). The client must outlive
// its exchanges' handlers; Shutdown() cancels all.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/io_context.hpp"
#include "core/http/header_list.h"
#include "core/http/tls_context.h"
#include "core/http/upstream_allowlist.h"
#include "core/http/url.h"

namespace shadowcat {

struct HttpClientOptions {
  // TCP connect (resolve included) must finish within this. Default: 10 s.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Longest silence allowed while waiting for response bytes (headers or body).
  // A quiet SSE stream is cut after this, so keep it above the upstream's
  // keepalive interval. Default: 300 s.
  absl::Duration read_timeout = absl::Seconds(300);
  // Response headers larger than this fail the exchange. Default: 64 KiB.
  size_t max_header_bytes = 64 << 10;
  // Bytes read from the socket at a time, and the most a single on_body call
  // carries. Default: 8 KiB.
  size_t read_buffer_bytes = 8 << 10;
  // Idle keep-alive connections kept per origin (scheme://host:port).
  // Default: 4.
  size_t max_idle_per_origin = 4;
  // An idle pooled connection older than this is closed instead of reused.
  // Default: 30 s.
  absl::Duration idle_timeout = absl::Seconds(30);
  // Trust, client certificate and versions for https upstreams, shared by
  // every TLS connection. Default: null, meaning TlsContext::Create(
  // TlsOptions{}) (system CAs, TLS 1.2+) at construction; if even that fails,
  // https exchanges end with its error.
  std::shared_ptr<TlsContext> tls;
  // Redirects (PX-08, SC-02; redirect_policy.h): a 307 or 308 (or a 301, 302
  // or 303 to a GET or HEAD) whose Location is on the same origin and passes
  // this allowlist is followed, at most max_redirects times per request, by
  // re-sending the request unchanged. Any other 3xx reaches on_head with
  // HttpResponseHead::redirect_refusal saying why. Default: null, no redirect
  // is followed.
  std::shared_ptr<const UpstreamAllowlist> redirect_allowlist;
  int max_redirects = 3;
};

struct HttpRequest {
  std::string method;  // "POST", "GET", "DELETE"
  Url url;
  // Host, Content-Length, Connection and Accept-Encoding are set by the
  // client.
  HeaderList headers;
  std::string body;
  // For a response that mostly waits (the GET stream, subscriptions/listen):
  // between reads over plain TCP the exchange holds no read or body buffer,
  // waiting for readability instead, at one more system call per read. Ten
  // thousand idle streams then cost no 160 MiB of empty buffers.
  bool mostly_idle = false;
};

struct HttpResponseHead {
  int status = 0;
  // As received: Content-Encoding and Content-Length describe the body on the
  // wire, not what on_body delivers.
  HeaderList headers;
  // A 3xx that was not followed: why, in words that name no query or
  // userinfo (redirect_policy.h). Empty otherwise.
  std::string redirect_refusal;
  // Case-insensitive lookup of the first header named `name`.
  std::optional<std::string> Header(absl::string_view name) const;
  // The Content-Type's media-type essence, lower-cased, parameters dropped
  // (SH-05): "Application/JSON; charset=utf-8" -> "application/json". Empty
  // when absent.
  std::string MediaType() const;
};

struct HttpHandlers {
  // Response head received. Called at most once, before any on_body.
  absl::AnyInvocable<void(const HttpResponseHead&)> on_head;
  // Next piece of the decoded body (chunked framing removed, and the
  // Content-Encoding gzip, deflate or br undone, PX-07), at most
  // read_buffer_bytes.
  absl::AnyInvocable<void(absl::string_view chunk)> on_body;
  // The exchange ended: OK after the whole body; otherwise why (Unavailable for
  // connect failures, TLS handshake and certificate failures (the message
  // names the cause: "certificate expired", "unknown issuer", "hostname
  // mismatch") and drops, DeadlineExceeded for timeouts,
  // ResourceExhausted for oversized headers, DataLoss for a body that cannot
  // be decoded (an unsupported Content-Encoding, corrupt or truncated
  // compressed data; the message names the coding), Cancelled after
  // Cancel()). Called exactly once.
  absl::AnyInvocable<void(absl::Status)> on_done;
};

// One request/response in flight. Owned jointly by the caller and the I/O in
// progress.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  // Aborts the exchange; on_done(Cancelled) follows unless it already ran. The
  // connection is closed, not pooled. Callable from any thread.
  virtual void Cancel() = 0;
  // Backpressure: after Pause(), no further socket read is issued until
  // Resume(), so a slow consumer pushes back on the upstream through TCP. Call
  // on the exchange's executor.
  virtual void Pause() = 0;
  virtual void Resume() = 0;
  // The caller needs no more of the body (an SSE response stream whose
  // response has arrived, SS-02), but a server usually ends such a stream
  // right after it. Rather than close a connection that is about to be
  // reusable, discard up to `max_bytes` more for at most `timeout`: if the
  // response ends within both, the connection goes back to the pool,
  // otherwise it is closed. No handler but on_done runs after this. Call on
  // the exchange's executor.
  virtual void Drain(size_t max_bytes, absl::Duration timeout) = 0;
};

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& ioc, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts `request`, reusing an idle connection to its origin when one is
  // pooled. Every request says Accept-Encoding: AcceptEncodingValue(), and
  // every response body is decoded before on_body. A reused connection that
  // turns out closed before any response byte is replaced once by a fresh one,
  // but only if the request cannot have reached the server (its write failed)
  // or its method is safe to repeat (GET, HEAD, DELETE); a POST that was
  // written then fails with Unavailable. Handlers run on `executor`.
  std::shared_ptr<HttpExchange> Start(boost::asio::any_io_executor executor,
                                      HttpRequest request,
                                      HttpHandlers handlers);

  // Closes pooled connections and cancels exchanges in flight. Callable from
  // any thread.
  void Shutdown();

  // Number of idle pooled connections (for metrics and tests).
  size_t idle_connections() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_HTTP_HTTP_CLIENT_H_
