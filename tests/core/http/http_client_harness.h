#ifndef SHADOWCAT_TESTS_CORE_HTTP_HTTP_CLIENT_HARNESS_H_
#define SHADOWCAT_TESTS_CORE_HTTP_HTTP_CLIENT_HARNESS_H_

// What HttpClient's tests share: an upstream (our HttpServer on 127.0.0.1:0)
// driven by a per-test script, a client on two io threads, and a recorder of
// what one exchange delivered and on which executor.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/strand.hpp"
#include "core/http/http_client.h"
#include "core/http/upstream_allowlist.h"
#include "core/http/url.h"
#include "gtest/gtest.h"
#include "server/http_server.h"

namespace shadowcat {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

inline constexpr absl::Duration kWait = absl::Seconds(10);

// What the upstream saw, shared with its handler (which may outlive a test's
// locals).
struct ServerLog {
  absl::Mutex mu;
  std::vector<HttpServerRequest> requests ABSL_GUARDED_BY(mu);
  std::vector<std::shared_ptr<HttpResponseWriter>> held ABSL_GUARDED_BY(mu);

  size_t Record(const HttpServerRequest& request) {
    absl::MutexLock lock(&mu);
    requests.push_back(request);
    return requests.size();
  }
  void Hold(std::shared_ptr<HttpResponseWriter> writer) {
    absl::MutexLock lock(&mu);
    held.push_back(std::move(writer));
  }
  std::shared_ptr<HttpResponseWriter> WaitHeld(size_t index = 0) {
    absl::MutexLock lock(&mu);
    auto ready = [this, index]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return held.size() > index;
    };
    if (!mu.AwaitWithTimeout(absl::Condition(&ready), kWait)) return nullptr;
    return held[index];
  }
  std::vector<HttpServerRequest> Requests() {
    absl::MutexLock lock(&mu);
    return requests;
  }
};

using Script = std::function<void(size_t n, HttpServerRequest request,
                                  std::shared_ptr<HttpResponseWriter> writer,
                                  ServerLog& log)>;

// What one exchange delivered. Shared with its handlers, which run on the io
// threads.
struct Recorder {
  absl::Mutex mu;
  std::optional<HttpResponseHead> head ABSL_GUARDED_BY(mu);
  std::vector<std::string> pieces ABSL_GUARDED_BY(mu);
  std::string body ABSL_GUARDED_BY(mu);
  int done_calls ABSL_GUARDED_BY(mu) = 0;
  bool called_after_done ABSL_GUARDED_BY(mu) = false;
  bool off_executor ABSL_GUARDED_BY(mu) = false;
  std::optional<absl::Status> status ABSL_GUARDED_BY(mu);
  // Runs on the executor after each piece is recorded (e.g. to Pause()).
  std::function<void(size_t pieces)> on_piece;

  bool WaitDone() {
    absl::MutexLock lock(&mu);
    auto done = [this]()
                    ABSL_SHARED_LOCKS_REQUIRED(mu) { return done_calls > 0; };
    return mu.AwaitWithTimeout(absl::Condition(&done), kWait);
  }
  bool WaitBody(size_t bytes, absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu);
    auto enough = [this, bytes]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return body.size() >= bytes;
    };
    return mu.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  absl::Status Status() {
    absl::MutexLock lock(&mu);
    return status.value_or(absl::InternalError("on_done not called"));
  }
  std::string Body() {
    absl::MutexLock lock(&mu);
    return body;
  }
  size_t Pieces() {
    absl::MutexLock lock(&mu);
    return pieces.size();
  }
};

// Handlers that record into `rec` and note any call off `strand`.
HttpHandlers MakeHandlers(const std::shared_ptr<Recorder>& rec, Strand strand);

// on_done exactly once, nothing after it, everything on the strand.
void ExpectCleanCallbacks(const std::shared_ptr<Recorder>& rec);

// Streams `count` chunks of `size` bytes, each after the previous one reached
// the socket.
void StreamChunks(std::shared_ptr<HttpResponseWriter> writer, int count,
                  size_t size, std::function<void()> after);

// An upstream (our HttpServer on 127.0.0.1:0), a client and two io threads.
// Redirects on the upstream are followed to `redirect_paths` (and below), an
// allowlist of "http://127.0.0.1:PORT" + path for each; none when empty.
class Harness {
 public:
  explicit Harness(Script script, HttpClientOptions options = {},
                   std::vector<std::string> redirect_paths = {})
      : guard_(asio::make_work_guard(ioc_)),
        log_(std::make_shared<ServerLog>()),
        strand_(asio::make_strand(ioc_)) {
    auto started = HttpServer::Start(
        ioc_, "127.0.0.1", 0,
        [log = log_, script = std::move(script)](
            HttpServerRequest request,
            std::shared_ptr<HttpResponseWriter> writer) {
          const size_t n = log->Record(request);
          script(n, std::move(request), std::move(writer), *log);
        });
    EXPECT_TRUE(started.ok()) << started.status();
    if (started.ok()) server_ = *std::move(started);
    if (!redirect_paths.empty()) {
      std::vector<std::string> entries;
      for (const std::string& path : redirect_paths) {
        entries.push_back(absl::StrCat("http://127.0.0.1:", port(), path));
      }
      absl::StatusOr<UpstreamAllowlist> allowlist =
          UpstreamAllowlist::Create(entries);
      EXPECT_TRUE(allowlist.ok()) << allowlist.status();
      if (allowlist.ok()) {
        options.redirect_allowlist =
            std::make_shared<const UpstreamAllowlist>(*std::move(allowlist));
      }
    }
    client_ = std::make_unique<HttpClient>(ioc_, options);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  ~Harness() {
    client_->Shutdown();
    if (server_) server_->Stop();
    {
      // Writers hold their connections, and the handler holds the log: break
      // the cycle.
      absl::MutexLock lock(&log_->mu);
      log_->held.clear();
    }
    guard_.reset();
    for (auto& t : threads_) t.join();
  }

  uint16_t port() const { return server_ ? server_->port() : 0; }
  HttpClient& client() { return *client_; }
  ServerLog& log() { return *log_; }
  Strand strand() const { return strand_; }
  HttpServer& server() { return *server_; }

  HttpRequest Request(const std::string& method, const std::string& path,
                      std::string body = "") const {
    HttpRequest request;
    request.method = method;
    absl::StatusOr<Url> url =
        ParseUrl(absl::StrCat("http://127.0.0.1:", port(), path));
    EXPECT_TRUE(url.ok()) << url.status();
    if (url.ok()) request.url = *url;
    request.body = std::move(body);
    return request;
  }

  std::shared_ptr<HttpExchange> Start(HttpRequest request,
                                      const std::shared_ptr<Recorder>& rec) {
    return client_->Start(strand_, std::move(request),
                          MakeHandlers(rec, strand_));
  }

  // Starts `request` and pauses the exchange from inside its first on_body,
  // as a sink returning kPaused would. Sets `rec->on_piece`.
  std::shared_ptr<HttpExchange> StartPausingAtFirstPiece(
      HttpRequest request, const std::shared_ptr<Recorder>& rec);

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::shared_ptr<ServerLog> log_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
  Strand strand_;
  std::vector<std::thread> threads_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_CORE_HTTP_HTTP_CLIENT_HARNESS_H_
