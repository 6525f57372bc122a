#include "server/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/buffer.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "core/common/log.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

// After an error reply (413/431/400) the client may still be sending the
// request body. Closing with unread bytes would make the kernel send RST, which
// can destroy the reply before the client reads it, so we half-close and drain
// for a short while first.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Beast stores field lengths in 16 bits and throws beyond that; we drop such
// fields.
constexpr size_t kMaxFieldBytes = 60000;
constexpr char kCrLf[] = "\r\n";
constexpr char kLastChunk[] = "0\r\n\r\n";

std::string ToStd(beast::string_view s) {
  return std::string(s.data(), s.size());
}

beast::string_view ToBeast(absl::string_view s) { return {s.data(), s.size()}; }

bool StatusHasNoBody(unsigned status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

// Fields the server owns: the handler cannot frame the message or control the
// connection.
bool IsFramingField(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "content-length") ||
         absl::EqualsIgnoreCase(name, "transfer-encoding") ||
         absl::EqualsIgnoreCase(name, "connection");
}

// Builds a response head; `body_size` is nullopt for a chunked response.
http::response<http::empty_body> MakeHead(int status,
                                          const HttpHeaders& headers,
                                          bool keep_alive,
                                          std::optional<size_t> body_size) {
  http::response<http::empty_body> res;
  res.version(11);
  // Beast throws for codes above 999; handler bugs become a 500 instead.
  const unsigned code = (status >= 100 && status <= 999) ? status : 500;
  res.result(code);
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.size() > kMaxFieldBytes ||
        value.size() > kMaxFieldBytes || IsFramingField(name) ||
        absl::StrContains(value, '\r') || absl::StrContains(value, '\n') ||
        absl::StrContains(name, ':')) {
      SC_LOG(kWarning, "http server: dropped an invalid response header");
      continue;
    }
    res.insert(ToBeast(name), ToBeast(value));
  }
  res.keep_alive(keep_alive);
  if (!StatusHasNoBody(code)) {
    if (body_size.has_value()) {
      res.content_length(*body_size);
    } else {
      res.chunked(true);
    }
  }
  return res;
}

std::string SerializeHead(http::response<http::empty_body>& res) {
  http::response_serializer<http::empty_body> sr(res);
  sr.split(true);
  std::string out;
  ErrorCode ec;
  while (!ec && !sr.is_header_done()) {
    sr.next(ec, [&](ErrorCode& next_ec, const auto& buffers) {
      next_ec = {};
      size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
  }
  return out;
}

// One queued write: `prefix` (a head or a chunk-size line), `data`, then CRLF
// for chunks.
struct PendingWrite {
  std::string prefix;
  std::string data;
  bool chunk = false;
  bool ends_response = false;
  std::function<void(bool ok)> on_written;
};

class Connection;

// State shared by the listener, the server object and every connection, so none
// of them dangles when the others go away first.
class ServerState {
 public:
  ServerState(HttpHandler handler, HttpServerOptions options)
      : handler_(std::move(handler)), options_(options) {}

  const HttpHandler& handler() const { return handler_; }
  const HttpServerOptions& options() const { return options_; }
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }
  uint64_t NextConnectionId() { return next_id_.fetch_add(1); }

  // False once stopped or at the connection cap: the caller drops the
  // connection.
  bool Register(uint64_t id, std::weak_ptr<Connection> conn) {
    absl::MutexLock lock(&mu_);
    if (stopped_.load(std::memory_order_relaxed)) return false;
    if (options_.max_connections > 0 &&
        connections_.size() >= options_.max_connections) {
      return false;
    }
    connections_.emplace(id, std::move(conn));
    return true;
  }

  void Unregister(uint64_t id) {
    absl::MutexLock lock(&mu_);
    connections_.erase(id);
  }

  // Marks the server stopped and returns the live connections; false if already
  // stopped.
  bool MarkStopped(std::vector<std::shared_ptr<Connection>>* live) {
    absl::MutexLock lock(&mu_);
    if (stopped_.load(std::memory_order_relaxed)) return false;
    stopped_.store(true, std::memory_order_release);
    for (const auto& [id, weak] : connections_) {
      if (auto conn = weak.lock()) live->push_back(std::move(conn));
    }
    return true;
  }

 private:
  const HttpHandler handler_;
  const HttpServerOptions options_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> next_id_{1};
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Connection>> connections_
      ABSL_GUARDED_BY(mu_);
};

// The handler's handle on one response. Holds the connection alive; every call
// hops to the connection's strand.
class ResponseWriterImpl : public HttpResponseWriter {
 public:
  ResponseWriterImpl(std::shared_ptr<Connection> conn, uint64_t seq,
                     std::shared_ptr<std::atomic<bool>> closed)
      : conn_(std::move(conn)), seq_(seq), closed_(std::move(closed)) {}
  ~ResponseWriterImpl() override;

  // HttpResponseWriter:
  void SendFull(int status, HttpHeaders headers, std::string body) override;
  void StartStream(int status, HttpHeaders headers) override;
  void WriteChunk(std::string data,
                  std::function<void(bool ok)> on_written) override;
  void EndStream() override;
  void Abort() override;
  bool closed() const override { return closed_->load(); }
  void AbortWithReset() override;
  void NotifyOnClose(std::function<void()> on_close) override;
  void SetSendBufferBytes(int bytes) override;

 private:
  const std::shared_ptr<Connection> conn_;
  const uint64_t seq_;
  const std::shared_ptr<std::atomic<bool>> closed_;
};

// One accepted TCP connection. Everything below runs on the socket's strand;
// the public entry points are posted there by ResponseWriterImpl and the
// server.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<ServerState> state,
             uint64_t id)
      : socket_(std::move(socket)),
        linger_timer_(socket_.get_executor()),
        read_timer_(socket_.get_executor()),
        state_(std::move(state)),
        id_(id) {}

  ~Connection() { state_->Unregister(id_); }

  asio::any_io_executor executor() { return socket_.get_executor(); }

  void Start() {
    asio::post(executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  void Close() {
    asio::post(executor(), [self = shared_from_this()] { self->CloseNow(); });
  }

  // Writer entry points (on the strand). Each ignores calls from a writer whose
  // response is no longer the current one (`seq` mismatch), so a stale writer
  // cannot corrupt the next response on a keep-alive connection.
  void OnSendFull(uint64_t seq, int status, HttpHeaders headers,
                  std::string body) {
    if (seq != seq_ || phase_ != Phase::kAwaitingResponse || closed_) return;
    QueueFull(status, headers, std::move(body));
  }

  void OnStartStream(uint64_t seq, int status, HttpHeaders headers) {
    if (seq != seq_ || phase_ != Phase::kAwaitingResponse || closed_) return;
    auto head = MakeHead(status, headers, keep_alive_, std::nullopt);
    if (!head.chunked()) {
      // 1xx/204/304 cannot carry a body, so the "stream" is over at once.
      PendingWrite w;
      w.prefix = SerializeHead(head);
      w.ends_response = true;
      phase_ = Phase::kFinishing;
      Enqueue(std::move(w));
      return;
    }
    PendingWrite w;
    w.prefix = SerializeHead(head);
    phase_ = Phase::kStreaming;
    Enqueue(std::move(w));
  }

  void OnWriteChunk(uint64_t seq, std::string data,
                    std::function<void(bool ok)> on_written) {
    if (seq != seq_ || phase_ != Phase::kStreaming || closed_) {
      if (on_written) on_written(false);
      return;
    }
    PendingWrite w;
    // An empty chunk would read as the terminator, and HEAD replies carry no
    // body; the zero-byte write still keeps on_written in order.
    if (!data.empty() && !head_only_) {
      w.prefix = absl::StrCat(absl::Hex(data.size()), kCrLf);
      w.data = std::move(data);
      w.chunk = true;
    }
    w.on_written = std::move(on_written);
    Enqueue(std::move(w));
  }

  void OnEndStream(uint64_t seq) {
    if (seq != seq_ || phase_ != Phase::kStreaming || closed_) return;
    PendingWrite w;
    if (!head_only_) w.prefix = kLastChunk;
    w.ends_response = true;
    phase_ = Phase::kFinishing;
    Enqueue(std::move(w));
  }

  void OnAbort(uint64_t seq) {
    if (seq != seq_) return;
    CloseNow();
  }

  void OnAbortWithReset(uint64_t seq) {
    if (seq != seq_) return;
    CloseNow(/*reset=*/true);
  }

  void OnSetSendBufferBytes(uint64_t seq, int bytes) {
    if (seq != seq_ || closed_) return;
    ErrorCode ignored;
    socket_.set_option(asio::socket_base::send_buffer_size(bytes), ignored);
  }

  void OnNotifyOnClose(uint64_t seq, std::function<void()> on_close) {
    // A newer response means this one ended normally.
    if (seq != seq_ || response_done_) return;
    if (closed_) {
      on_close();
      return;
    }
    on_close_ = std::move(on_close);
  }

  void OnWriterReleased(uint64_t seq) {
    if (seq != seq_ || closed_) return;
    if (phase_ == Phase::kAwaitingResponse) {
      SC_LOG(kWarning,
             "http server: handler dropped its writer without replying");
      QueueFull(500, {{"Content-Type", "text/plain"}},
                "handler produced no response\n");
    } else if (phase_ == Phase::kStreaming) {
      // Nobody can end this stream any more; a truncated body tells the client.
      CloseNow();
    }
  }

 private:
  enum class Phase { kReading, kAwaitingResponse, kStreaming, kFinishing };

  void DoRead() {
    if (closed_) return;
    phase_ = Phase::kReading;
    const HttpServerOptions& options = state_->options();
    const bool timed = options.request_timeout != absl::InfiniteDuration() ||
                       options.idle_timeout != absl::InfiniteDuration();
    if (timed && served_one_ && buffer_.size() == 0) {
      // Between requests on a keep-alive connection: wait for the next first
      // byte under the idle timeout, then read the request under the request
      // timeout.
      ArmReadTimer(options.idle_timeout);
      socket_.async_wait(tcp::socket::wait_read,
                         [self = shared_from_this()](ErrorCode ec) {
                           self->OnIdleReadable(ec);
                         });
      return;
    }
    ReadRequest();
  }

  void OnIdleReadable(ErrorCode ec) {
    if (closed_ || phase_ != Phase::kReading) return;
    if (ec) {
      CloseNow();
      return;
    }
    ReadRequest();
  }

  void ReadRequest() {
    ArmReadTimer(state_->options().request_timeout);
    parser_.emplace();
    parser_->body_limit(state_->options().max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(state_->options().max_header_bytes,
                         std::numeric_limits<uint32_t>::max())));
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](ErrorCode ec, size_t) {
                       self->OnRead(ec);
                     });
  }

  // Closes the connection if the read phase is still on after `timeout`; an
  // infinite timeout only disarms the previous one.
  void ArmReadTimer(absl::Duration timeout) {
    const uint64_t gen = ++read_timer_gen_;
    if (timeout == absl::InfiniteDuration()) {
      read_timer_.cancel();
      return;
    }
    read_timer_.expires_after(absl::ToChronoNanoseconds(timeout));
    read_timer_.async_wait([self = shared_from_this(), gen](ErrorCode ec) {
      if (ec || gen != self->read_timer_gen_ || self->closed_ ||
          self->phase_ != Phase::kReading) {
        return;
      }
      SC_LOG(kDebug, "http server: closing a connection: read timed out");
      self->CloseNow();
    });
  }

  void DisarmReadTimer() {
    ++read_timer_gen_;
    read_timer_.cancel();
  }

  void OnRead(ErrorCode ec) {
    if (closed_) return;
    DisarmReadTimer();
    if (ec) {
      if (ec == http::error::body_limit) {
        QueueErrorAndLinger(413, "request body too large\n");
      } else if (ec == http::error::header_limit) {
        QueueErrorAndLinger(431, "request header fields too large\n");
      } else if (ec.category() ==
                     http::make_error_code(http::error::bad_version)
                         .category() &&
                 ec != http::error::end_of_stream &&
                 ec != http::error::partial_message) {
        QueueErrorAndLinger(400, "bad request\n");
      } else {
        // end_of_stream (client closed between requests), resets, aborts.
        CloseNow();
      }
      return;
    }
    if (state_->stopped()) {
      CloseNow();
      return;
    }
    http::request<http::string_body> req = parser_->release();
    parser_.reset();
    HttpServerRequest request;
    request.method = ToStd(req.method_string());
    request.target = ToStd(req.target());
    for (const auto& field : req) {
      request.headers.emplace_back(ToStd(field.name_string()),
                                   ToStd(field.value()));
    }
    request.body = std::move(req.body());
    request.connection_id = id_;
    keep_alive_ = req.keep_alive();
    head_only_ = req.method() == http::verb::head;
    linger_ = false;
    served_one_ = true;

    ++seq_;
    phase_ = Phase::kAwaitingResponse;
    response_done_ = false;
    on_close_ = nullptr;
    response_closed_ = std::make_shared<std::atomic<bool>>(false);
    auto writer = std::make_shared<ResponseWriterImpl>(shared_from_this(), seq_,
                                                       response_closed_);
    StartWatchingPeer();
    state_->handler()(std::move(request), std::move(writer));
  }

  void QueueFull(int status, const HttpHeaders& headers, std::string body) {
    auto head = MakeHead(status, headers, keep_alive_, body.size());
    PendingWrite w;
    w.prefix = SerializeHead(head);
    if (!head_only_ && !StatusHasNoBody(head.result_int()))
      w.data = std::move(body);
    w.ends_response = true;
    phase_ = Phase::kFinishing;
    Enqueue(std::move(w));
  }

  void QueueErrorAndLinger(int status, std::string body) {
    keep_alive_ = false;
    head_only_ = false;
    linger_ = true;
    ++seq_;  // No writer exists for this reply; any old one is stale.
    response_closed_.reset();
    QueueFull(status, {{"Content-Type", "text/plain"}}, std::move(body));
  }

  void Enqueue(PendingWrite w) {
    queue_.push_back(std::move(w));
    if (!write_in_flight_) DoWrite();
  }

  void DoWrite() {
    if (queue_.empty() || closed_) return;
    write_in_flight_ = true;
    // std::deque keeps element addresses stable across push_back, so these
    // buffers stay valid while more writes queue behind this one.
    const PendingWrite& w = queue_.front();
    std::array<asio::const_buffer, 3> buffers = {
        asio::buffer(w.prefix), asio::buffer(w.data),
        w.chunk ? asio::buffer(kCrLf, 2) : asio::const_buffer()};
    asio::async_write(socket_, buffers,
                      [self = shared_from_this()](ErrorCode ec, size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(ErrorCode ec) {
    write_in_flight_ = false;
    if (queue_.empty()) return;
    PendingWrite w = std::move(queue_.front());
    queue_.pop_front();
    if (ec) {
      // closed() must already be true when the callback learns of the failure.
      if (response_closed_) response_closed_->store(true);
      if (w.on_written) w.on_written(false);
      CloseNow();
      return;
    }
    if (w.on_written) w.on_written(true);
    if (closed_) return;
    if (w.ends_response) {
      FinishResponse();
      return;
    }
    DoWrite();
  }

  void FinishResponse() {
    if (response_closed_) response_closed_->store(true);
    response_done_ = true;
    on_close_ = nullptr;
    if (closed_) return;
    StopWatchingPeer();
    if (linger_) {
      LingerThenClose();
    } else if (keep_alive_) {
      DoRead();
    } else {
      ErrorCode ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      CloseNow();
    }
  }

  // While the handler owns the request, the socket is otherwise idle; waiting
  // for it to become readable is how we learn that a streaming client went
  // away.
  void StartWatchingPeer() {
    watching_ = true;
    const uint64_t gen = ++watch_gen_;
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this(), gen](ErrorCode ec) {
                         self->OnPeerReadable(ec, gen);
                       });
  }

  void StopWatchingPeer() {
    if (!watching_) return;
    watching_ = false;
    ++watch_gen_;
    // Only called with no write in flight, so this cancels just the wait.
    ErrorCode ignored;
    socket_.cancel(ignored);
  }

  void OnPeerReadable(ErrorCode ec, uint64_t gen) {
    if (gen != watch_gen_ || !watching_ || closed_) return;
    watching_ = false;
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      // Peek without blocking: readiness can be stale (the edge of bytes the
      // request read already consumed), so only an actual EOF or error means
      // the peer is gone.
      char byte;
      socket_.non_blocking(true, ec);
      if (!ec) {
        socket_.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
      }
      if (ec == asio::error::would_block) {
        StartWatchingPeer();
        return;
      }
      // Bytes waiting are a pipelined request, read once this response ends.
      if (!ec) return;
    }
    // EOF, reset or another error: the peer closed the connection.
    CloseNow();
  }

  void LingerThenClose() {
    ErrorCode ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    linger_timer_.expires_after(kLingerTimeout);
    linger_timer_.async_wait([self = shared_from_this()](ErrorCode ec) {
      if (!ec) self->CloseNow();
    });
    drain_buffer_.resize(4096);
    DoDrain();
  }

  void DoDrain() {
    if (closed_) return;
    socket_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](ErrorCode ec, size_t) {
                              if (ec) {
                                self->CloseNow();
                              } else {
                                self->DoDrain();
                              }
                            });
  }

  // `reset`: make the kernel send RST (SO_LINGER 0) rather than FIN.
  void CloseNow(bool reset = false) {
    if (closed_) return;
    closed_ = true;
    if (response_closed_) response_closed_->store(true);
    ErrorCode ignored;
    if (reset) {
      socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    } else {
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
    }
    socket_.close(ignored);
    linger_timer_.cancel();
    read_timer_.cancel();
    // The front write, if in flight, is failed by its own completion.
    const auto first_unsent = queue_.begin() + (write_in_flight_ ? 1 : 0);
    std::vector<PendingWrite> dropped(std::make_move_iterator(first_unsent),
                                      std::make_move_iterator(queue_.end()));
    queue_.erase(first_unsent, queue_.end());
    for (auto& w : dropped) {
      if (w.on_written) w.on_written(false);
    }
    if (on_close_) {
      std::function<void()> on_close = std::move(on_close_);
      on_close_ = nullptr;
      on_close();
    }
  }

  tcp::socket socket_;
  asio::steady_timer linger_timer_;
  // Bounds the read phase (request_timeout, idle_timeout); a generation
  // counter makes a stale expiry a no-op.
  asio::steady_timer read_timer_;
  uint64_t read_timer_gen_ = 0;
  // A request was read on this connection (later reads are keep-alive ones).
  bool served_one_ = false;
  std::shared_ptr<ServerState> state_;
  const uint64_t id_;

  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Phase phase_ = Phase::kReading;
  uint64_t seq_ = 0;
  bool keep_alive_ = false;
  bool head_only_ = false;
  bool linger_ = false;
  bool closed_ = false;
  bool watching_ = false;
  uint64_t watch_gen_ = 0;
  std::shared_ptr<std::atomic<bool>> response_closed_;
  // The current response ended normally (its last byte was written).
  bool response_done_ = false;
  std::function<void()> on_close_;
  std::deque<PendingWrite> queue_;
  bool write_in_flight_ = false;
  std::string drain_buffer_;
};

ResponseWriterImpl::~ResponseWriterImpl() {
  asio::post(conn_->executor(),
             [conn = conn_, seq = seq_] { conn->OnWriterReleased(seq); });
}

void ResponseWriterImpl::SendFull(int status, HttpHeaders headers,
                                  std::string body) {
  asio::post(conn_->executor(), [conn = conn_, seq = seq_, status,
                                 headers = std::move(headers),
                                 body = std::move(body)]() mutable {
    conn->OnSendFull(seq, status, std::move(headers), std::move(body));
  });
}

void ResponseWriterImpl::StartStream(int status, HttpHeaders headers) {
  asio::post(conn_->executor(), [conn = conn_, seq = seq_, status,
                                 headers = std::move(headers)]() mutable {
    conn->OnStartStream(seq, status, std::move(headers));
  });
}

void ResponseWriterImpl::WriteChunk(std::string data,
                                    std::function<void(bool ok)> on_written) {
  asio::post(conn_->executor(),
             [conn = conn_, seq = seq_, data = std::move(data),
              on_written = std::move(on_written)]() mutable {
               conn->OnWriteChunk(seq, std::move(data), std::move(on_written));
             });
}

void ResponseWriterImpl::EndStream() {
  closed_->store(true);
  asio::post(conn_->executor(),
             [conn = conn_, seq = seq_] { conn->OnEndStream(seq); });
}

void ResponseWriterImpl::Abort() {
  closed_->store(true);
  asio::post(conn_->executor(),
             [conn = conn_, seq = seq_] { conn->OnAbort(seq); });
}

void ResponseWriterImpl::AbortWithReset() {
  closed_->store(true);
  asio::post(conn_->executor(),
             [conn = conn_, seq = seq_] { conn->OnAbortWithReset(seq); });
}

void ResponseWriterImpl::NotifyOnClose(std::function<void()> on_close) {
  asio::post(conn_->executor(), [conn = conn_, seq = seq_,
                                 on_close = std::move(on_close)]() mutable {
    conn->OnNotifyOnClose(seq, std::move(on_close));
  });
}

void ResponseWriterImpl::SetSendBufferBytes(int bytes) {
  asio::post(conn_->executor(), [conn = conn_, seq = seq_, bytes] {
    conn->OnSetSendBufferBytes(seq, bytes);
  });
}

// Accepts connections on its own strand.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, std::shared_ptr<ServerState> state)
      : ioc_(ioc),
        acceptor_(asio::make_strand(ioc)),
        retry_timer_(acceptor_.get_executor()),
        state_(std::move(state)) {}

  absl::Status Bind(const tcp::endpoint& endpoint) {
    ErrorCode ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) port_ = acceptor_.local_endpoint(ec).port();
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("http server: binding ", endpoint.address().to_string(),
                       ":", endpoint.port(), " failed: ", ec.message()));
    }
    return absl::OkStatus();
  }

  uint16_t port() const { return port_; }

  void Start() {
    asio::post(acceptor_.get_executor(),
               [self = shared_from_this()] { self->DoAccept(); });
  }

  void Stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      ErrorCode ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
    });
  }

 private:
  void DoAccept() {
    if (state_->stopped() || !acceptor_.is_open()) return;
    acceptor_.async_accept(
        asio::make_strand(ioc_),
        [self = shared_from_this()](ErrorCode ec, tcp::socket socket) {
          self->OnAccept(ec, std::move(socket));
        });
  }

  void OnAccept(ErrorCode ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Typically EMFILE: back off briefly rather than spin on a failing
      // accept.
      SC_LOG(kWarning, "http server: accept failed: ", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([self = shared_from_this()](ErrorCode timer_ec) {
        if (!timer_ec) self->DoAccept();
      });
      return;
    }
    // Streamed events must leave at once, not wait behind Nagle for the ACK
    // of the previous segment (an SSE server must not buffer, SS-10).
    ErrorCode ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const uint64_t id = state_->NextConnectionId();
    auto conn = std::make_shared<Connection>(std::move(socket), state_, id);
    // A refused registration (server stopping) drops `conn`, closing the
    // socket.
    if (state_->Register(id, conn)) conn->Start();
    DoAccept();
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::shared_ptr<ServerState> state_;
  uint16_t port_ = 0;
};

class HttpServerImpl : public HttpServer {
 public:
  HttpServerImpl(std::shared_ptr<ServerState> state,
                 std::shared_ptr<Listener> listener)
      : state_(std::move(state)), listener_(std::move(listener)) {}

  ~HttpServerImpl() override { Stop(); }

  uint16_t port() const override { return listener_->port(); }

  void Stop() override {
    std::vector<std::shared_ptr<Connection>> live;
    if (!state_->MarkStopped(&live)) return;
    listener_->Stop();
    for (const auto& conn : live) conn->Close();
  }

 private:
  std::shared_ptr<ServerState> state_;
  std::shared_ptr<Listener> listener_;
};

}  // namespace

std::string HttpServerRequest::Header(absl::string_view name) const {
  return HeaderOrEmpty(headers, name);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    boost::asio::io_context& ioc, const std::string& address, uint16_t port,
    HttpHandler handler, HttpServerOptions options) {
  if (!handler)
    return absl::InvalidArgumentError("http server: handler is empty");
  ErrorCode ec;
  const asio::ip::address ip = asio::ip::make_address(address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("http server: bad listen address \"", address, "\""));
  }
  auto state = std::make_shared<ServerState>(std::move(handler), options);
  auto listener = std::make_shared<Listener>(ioc, state);
  if (absl::Status status = listener->Bind(tcp::endpoint(ip, port));
      !status.ok()) {
    return status;
  }
  listener->Start();
  return std::make_unique<HttpServerImpl>(std::move(state),
                                          std::move(listener));
}

}  // namespace shadowcat
