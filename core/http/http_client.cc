#include "core/http/http_client.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/bind_executor.hpp"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "core/common/log.h"
#include "core/http/beast_status.h"
#include "core/http/connection_pool.h"
#include "core/http/content_decoder.h"
#include "core/http/http_connection.h"
#include "core/http/redirect_policy.h"
#include "core/http/tls_context.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using Clock = asio::steady_timer::clock_type;

// Durations beyond this are treated as "no timeout": steady_clock arithmetic
// would overflow on absl::InfiniteDuration().
constexpr absl::Duration kNoTimeout = absl::Hours(24 * 365);
// Beast stores field lengths in 16 bits and throws beyond that.
constexpr size_t kMaxFieldBytes = 60000;
constexpr absl::string_view kNotRetried =
    "not retried because the request may have been received";

beast::string_view ToBeast(absl::string_view s) { return {s.data(), s.size()}; }

std::string ToStd(beast::string_view s) {
  return std::string(s.data(), s.size());
}

// RFC 9110 token, for methods and header names.
bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (absl::StrContains("!#$%&'*+-.^_`|~", c)) continue;
    return false;
  }
  return true;
}

bool IsSafeHeaderValue(absl::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Fields the client owns (see HttpRequest::headers).
bool IsClientOwnedField(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "host") ||
         absl::EqualsIgnoreCase(name, "content-length") ||
         absl::EqualsIgnoreCase(name, "connection") ||
         absl::EqualsIgnoreCase(name, "transfer-encoding") ||
         absl::EqualsIgnoreCase(name, "accept-encoding");
}

// Every Content-Encoding field of `headers`, joined as one list.
std::string ContentEncoding(const HeaderList& headers) {
  std::string joined;
  for (const auto& [name, value] : headers) {
    if (!absl::EqualsIgnoreCase(name, "content-encoding")) continue;
    absl::StrAppend(&joined, joined.empty() ? "" : ",", value);
  }
  return joined;
}

class ExchangeImpl;

// What every exchange of one client shares; outlives the HttpClient while
// exchanges run.
class ClientState {
 public:
  ClientState(asio::io_context& ioc, HttpClientOptions options)
      : ioc_(ioc),
        options_(options),
        pool_(options.max_idle_per_origin, options.idle_timeout) {
    if (options_.tls != nullptr) return;
    // Without a configured context, https upstreams get the defaults (system
    // CAs, TLS 1.2+). Should even that fail, only https exchanges fail, with
    // the reason, and plain http keeps working.
    absl::StatusOr<std::shared_ptr<TlsContext>> tls =
        TlsContext::Create(TlsOptions{});
    if (tls.ok()) {
      options_.tls = *std::move(tls);
    } else {
      tls_status_ = tls.status();
    }
  }

  asio::io_context& ioc() { return ioc_; }
  const HttpClientOptions& options() const { return options_; }
  ConnectionPool& pool() { return pool_; }
  // The context for https exchanges, or why there is none.
  absl::StatusOr<std::shared_ptr<TlsContext>> tls() const {
    if (options_.tls == nullptr) return tls_status_;
    return options_.tls;
  }

  // Returns the exchange's id, or 0 once shut down.
  uint64_t Register(std::weak_ptr<ExchangeImpl> exchange) {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return 0;
    const uint64_t id = next_id_++;
    exchanges_.emplace(id, std::move(exchange));
    return id;
  }

  void Unregister(uint64_t id) {
    absl::MutexLock lock(&mu_);
    exchanges_.erase(id);
  }

  void Shutdown();

 private:
  asio::io_context& ioc_;
  HttpClientOptions options_;  // Constant once constructed.
  absl::Status tls_status_;
  ConnectionPool pool_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<ExchangeImpl>> exchanges_
      ABSL_GUARDED_BY(mu_);
};

// One request/response: the retry policy and HTTP framing on top of one
// HttpConnection. All private methods run on strand_, the caller's executor
// made serial, so the handlers run there too and never concurrently. The
// connection lives on the io_context's plain executor (so a pooled connection
// can move between strands); its completion handlers are bound to strand_.
class ExchangeImpl : public HttpExchange,
                     public std::enable_shared_from_this<ExchangeImpl> {
 public:
  ExchangeImpl(std::shared_ptr<ClientState> client,
               asio::any_io_executor executor, HttpRequest request,
               HttpHandlers handlers)
      : client_(std::move(client)),
        options_(client_->options()),
        strand_(Serial(std::move(executor))),
        request_(std::move(request)),
        handlers_(std::move(handlers)),
        timer_(strand_) {}

  ~ExchangeImpl() override {
    if (done_ || !handlers_.on_done) return;
    // Only a caller that dropped a paused exchange gets here (anything in
    // flight holds a reference). on_done is still owed, and still belongs on
    // the executor.
    if (id_ != 0) client_->Unregister(id_);
    asio::post(strand_, [on_done = std::move(handlers_.on_done)]() mutable {
      on_done(absl::CancelledError("http exchange abandoned while paused"));
    });
  }

  // Dispatched: a caller already on the strand (a session starting a call)
  // writes the request at once instead of queueing a hop. Begin() reports its
  // own failures later, never from inside Start().
  void Launch() {
    id_ = client_->Register(weak_from_this());
    asio::dispatch(strand_, [self = shared_from_this()] { self->Begin(); });
  }

  // HttpExchange:
  void Cancel() override {
    if (cancel_requested_.exchange(true)) return;
    asio::post(strand_, [self = shared_from_this()] {
      self->Finish(absl::CancelledError("http exchange cancelled"),
                   /*reusable=*/false);
    });
  }

  void Pause() override { paused_.store(true); }

  void Drain(size_t max_bytes, absl::Duration timeout) override {
    if (done_ || cancel_requested_.load()) return;
    if (phase_ != Phase::kReading || !parser_.has_value() ||
        !parser_->is_header_done()) {
      Cancel();
      return;
    }
    draining_ = true;
    drain_budget_ = max_bytes;
    handlers_.on_head = nullptr;
    handlers_.on_body = nullptr;
    ArmTimer(timeout);
    paused_.store(false);
    // Posted: the caller may be inside on_body, and the body loop must not be
    // re-entered.
    asio::post(strand_, [self = shared_from_this()] {
      if (!self->done_ && !self->read_in_flight_) self->Process();
    });
  }

  void Resume() override {
    if (!paused_.exchange(false)) return;
    // Posted, not dispatched: Resume() may be called from inside on_body, and
    // the body loop must not be re-entered.
    asio::post(strand_, [self = shared_from_this()] {
      if (!self->done_ && self->phase_ == Phase::kReading &&
          !self->read_in_flight_) {
        self->Process();
      }
    });
  }

 private:
  enum class Phase { kStarting, kConnecting, kWriting, kReading, kDone };

  // A strand is serial already; another strand around it would only add a
  // queue and an allocation to every handler.
  static asio::any_io_executor Serial(asio::any_io_executor executor) {
    if (executor.target<asio::strand<asio::io_context::executor_type>>() !=
            nullptr ||
        executor.target<asio::strand<asio::any_io_executor>>() != nullptr) {
      return executor;
    }
    return asio::make_strand(std::move(executor));
  }

  void Begin() {
    if (done_) return;
    if (id_ == 0) {
      FailLater(absl::CancelledError("http client is shut down"));
      return;
    }
    const bool https = request_.url.scheme == "https";
    if ((!https && request_.url.scheme != "http") ||
        request_.url.host.empty() || request_.url.port == 0 ||
        request_.url.target.empty() || request_.url.target.front() != '/') {
      FailLater(
          absl::InvalidArgumentError("request url is not a parsed http url"));
      return;
    }
    if (absl::Status status = BuildWireRequest(); !status.ok()) {
      FailLater(std::move(status));
      return;
    }
    if (https) {
      absl::StatusOr<std::shared_ptr<TlsContext>> tls = client_->tls();
      if (!tls.ok()) {
        FailLater(tls.status());
        return;
      }
      tls_ = *std::move(tls);
    }
    // The origin carries the scheme, so http and https connections to one
    // host:port never share a pool slot.
    origin_ = request_.url.Origin();
    visited_.push_back(request_.url);
    Send();
  }

  // Sends the request, on a pooled connection when there is one.
  void Send() {
    conn_ = client_->pool().Take(origin_);
    if (conn_ != nullptr) {
      reused_ = true;
      DoWrite();
    } else {
      Connect();
    }
  }

  absl::Status BuildWireRequest() {
    const std::string& method = request_.method;
    if (!IsToken(method))
      return absl::InvalidArgumentError("request method is not a token");
    const http::verb verb = http::string_to_verb(ToBeast(method));
    if (verb == http::verb::unknown) {
      wire_.method_string(ToBeast(method));
    } else {
      wire_.method(verb);
    }
    head_request_ = verb == http::verb::head;
    idempotent_ = verb == http::verb::get || verb == http::verb::head ||
                  verb == http::verb::delete_;
    wire_.version(11);
    wire_.target(ToBeast(request_.url.target));
    wire_.set(http::field::host, ToBeast(request_.url.HostHeader()));
    for (const auto& [name, value] : request_.headers) {
      if (!IsToken(name) || name.size() > kMaxFieldBytes) {
        return absl::InvalidArgumentError("request header name is not a token");
      }
      if (value.size() > kMaxFieldBytes || !IsSafeHeaderValue(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("request header ", name, " has an invalid value"));
      }
      if (IsClientOwnedField(name)) continue;
      wire_.insert(ToBeast(name), ToBeast(value));
    }
    wire_.set(http::field::connection, "keep-alive");
    // PX-07: only what ContentDecoder undoes.
    wire_.set(http::field::accept_encoding, ToBeast(AcceptEncodingValue()));
    if (!request_.body.empty() || verb == http::verb::post ||
        verb == http::verb::put || verb == http::verb::patch) {
      wire_.content_length(request_.body.size());
    }
    wire_.body() = std::move(request_.body);
    return absl::OkStatus();
  }

  void Connect() {
    phase_ = Phase::kConnecting;
    ArmTimer(options_.connect_timeout);
    // Made here: a pooled request (nearly all) never resolves.
    if (resolver_ == nullptr) {
      resolver_ = std::make_unique<tcp::resolver>(client_->ioc());
    }
    resolver_->async_resolve(
        request_.url.host, std::to_string(request_.url.port),
        tcp::resolver::numeric_service,
        asio::bind_executor(
            strand_, [self = shared_from_this()](
                         ErrorCode ec, tcp::resolver::results_type results) {
              self->OnResolve(ec, std::move(results));
            }));
  }

  void OnResolve(ErrorCode ec, tcp::resolver::results_type results) {
    if (done_) return;
    if (ec) {
      DisarmTimer();
      Fail(absl::UnavailableError(absl::StrCat("resolving ", request_.url.host,
                                               " failed: ", ec.message())));
      return;
    }
    // The connect timer keeps running through the TLS handshake: a peer
    // that accepts but never answers the ClientHello is as dead as one that
    // never accepts.
    conn_ = HttpConnection::Create(client_->ioc(), tls_, request_.url.host,
                                   origin_);
    conn_->AsyncConnect(results, strand_,
                        [self = shared_from_this()](absl::Status status) {
                          self->OnConnect(std::move(status));
                        });
  }

  void OnConnect(absl::Status status) {
    if (done_) return;
    DisarmTimer();
    if (!status.ok()) {
      Fail(std::move(status));
      return;
    }
    DoWrite();
  }

  void DoWrite() {
    phase_ = Phase::kWriting;
    // A peer that never reads our request is as silent as one that never
    // answers.
    ArmTimer(options_.read_timeout);
    conn_->AsyncWrite(wire_, strand_,
                      [self = shared_from_this()](ErrorCode ec, size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(ErrorCode ec) {
    if (done_) return;
    DisarmTimer();
    if (ec) {
      // A failed write delivered at most part of the request, which no server
      // acts on, so even a POST may go again.
      if (CanRetry()) {
        Retry();
      } else {
        Fail(ErrorCodeToStatus(
            ec, absl::StrCat("sending the request to ", origin_)));
      }
      return;
    }
    written_ = true;
    StartResponse();
  }

  void StartResponse() {
    phase_ = Phase::kReading;
    NewParser();
    Process();
  }

  void NewParser() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(
        options_.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    // SSE bodies are unbounded; the caller's per-event limits apply downstream.
    parser_->body_limit(boost::none);
    if (head_request_) parser_->skip(true);
  }

  size_t ReadBufferBytes() const {
    return std::max<size_t>(options_.read_buffer_bytes, 1);
  }

  void DoRead() {
    if (done_ || read_in_flight_ || paused_.load() || cancel_requested_.load())
      return;
    read_in_flight_ = true;
    ArmTimer(options_.read_timeout);
    if (request_.mostly_idle && buffer_.size() == 0 && !conn_->is_tls()) {
      // Nothing half-parsed is kept, so the buffers can go until bytes come.
      buffer_.shrink_to_fit();
      std::string().swap(body_buffer_);
      std::string().swap(decoded_buffer_);
      conn_->AsyncWaitReadable(
          strand_,
          [self = shared_from_this()](ErrorCode ec) { self->OnReadable(ec); });
      return;
    }
    conn_->AsyncReadSome(buffer_.prepare(ReadBufferBytes()), strand_,
                         [self = shared_from_this()](ErrorCode ec, size_t n) {
                           self->OnRead(ec, n);
                         });
  }

  void OnReadable(ErrorCode ec) {
    if (ec) {
      OnRead(ec, 0);
      return;
    }
    if (done_) {
      read_in_flight_ = false;
      return;
    }
    const size_t bytes =
        conn_->ReadSomeNow(buffer_.prepare(ReadBufferBytes()), ec);
    if (ec == asio::error::would_block) {
      // Readable, yet nothing there by now: wait again.
      read_in_flight_ = false;
      DoRead();
      return;
    }
    OnRead(ec, bytes);
  }

  void OnRead(ErrorCode ec, size_t bytes) {
    read_in_flight_ = false;
    if (done_) return;
    DisarmTimer();
    if (bytes > 0) {
      buffer_.commit(bytes);
      if (!got_response_bytes_ && !conn_->is_tls() && LooksLikeTls()) {
        Fail(absl::UnavailableError(absl::StrCat(
            "upstream ", origin_, " answered in TLS; use an https:// url")));
        return;
      }
      got_response_bytes_ = true;
    }
    if (ec == asio::error::eof) {
      OnEof();
      return;
    }
    if (ec) {
      if (CanRetry()) {
        Retry();
      } else {
        absl::Status status = ErrorCodeToStatus(
            ec, absl::StrCat("reading the response from ", origin_));
        if (RefusedReplay() && absl::IsUnavailable(status)) {
          status = absl::UnavailableError(
              absl::StrCat(status.message(), "; ", kNotRetried));
        }
        Fail(std::move(status));
      }
      return;
    }
    Process();
  }

  void OnEof() {
    if (CanRetry()) {
      Retry();
      return;
    }
    if (!parser_->got_some()) {
      Fail(absl::UnavailableError(absl::StrCat(
          "connection to ", origin_, " closed before a response",
          RefusedReplay() ? absl::StrCat("; ", kNotRetried) : "")));
      return;
    }
    if (parser_->need_eof() && conn_->truncated()) {
      // The body ends at the close, and over TLS only a close_notify proves
      // that the close came from the server and not from someone on the path.
      Fail(absl::UnavailableError(
          absl::StrCat("connection to ", origin_,
                       " closed without a tls close_notify; the response "
                       "body may be truncated")));
      return;
    }
    ErrorCode ec;
    parser_->put_eof(ec);
    if (ec) {
      Fail(absl::UnavailableError(absl::StrCat(
          "connection to ", origin_, " closed in the middle of the response ",
          parser_->is_header_done() ? "body" : "head")));
      return;
    }
    // A body delimited by the close is complete now (and the connection is
    // spent).
    Process();
  }

  // A TLS record header (alert 0x15 or handshake 0x16, version 3.x) where an
  // HTTP status line should be: the URL said http to a TLS port.
  bool LooksLikeTls() const {
    const auto data = buffer_.data();
    if (data.size() < 2) return false;
    const auto* p = static_cast<const unsigned char*>(data.data());
    return (p[0] == 0x15 || p[0] == 0x16) && p[1] == 0x03;
  }

  // Parses what is buffered, delivering the head and body pieces, then reads
  // more unless paused, finished or cancelled.
  void Process() {
    while (!done_) {
      if (cancel_requested_.load())
        return;  // Cancel()'s posted Finish follows.
      // What the decoder holds goes out before more is parsed, so one
      // compressed piece never floods a consumer that paused.
      if (decoder_ != nullptr && !DrainDecoder()) return;
      if (parser_->is_done()) {
        Complete();
        return;
      }
      if (buffer_.size() == 0) break;
      ErrorCode ec;
      if (!parser_->is_header_done()) {
        const size_t used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == http::error::need_more) break;
        if (ec) {
          Fail(ErrorCodeToStatus(
              ec, absl::StrCat("parsing the response head from ", origin_)));
          return;
        }
        if (parser_->is_header_done()) {
          if (!OnHeaderDone()) return;  // Redirected: another request runs.
        } else if (used == 0) {
          break;  // No progress without more bytes.
        }
        continue;
      }
      if (paused_.load()) return;
      if (body_buffer_.empty()) body_buffer_.resize(ReadBufferBytes());
      auto& body = parser_->get().body();
      body.data = body_buffer_.data();
      body.size = body_buffer_.size();
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      const size_t got = body_buffer_.size() - body.size;
      body.data = nullptr;
      if (draining_) {
        if (got > drain_budget_) {
          Fail(absl::CancelledError("response body not drained in budget"));
          return;
        }
        drain_budget_ -= got;
      }
      const bool need_more = ec == http::error::need_more;
      if (ec == http::error::need_buffer || need_more) ec = {};
      if (ec) {
        Fail(ErrorCodeToStatus(
            ec, absl::StrCat("parsing the response body from ", origin_)));
        return;
      }
      if (got > 0 &&
          !DeliverBody(absl::string_view(body_buffer_.data(), got))) {
        return;
      }
      if (need_more || (used == 0 && got == 0 && !parser_->is_done())) break;
    }
    DoRead();
  }

  // Hands on a piece of the body as received: as is, or through the decoder.
  // False when the exchange failed or stopped meanwhile.
  bool DeliverBody(absl::string_view raw) {
    if (!decode_status_.ok()) {
      // Only a body that is really there needs decoding: a 204 labelled
      // with an unknown coding is fine.
      Fail(decode_status_);
      return false;
    }
    if (decoder_ != nullptr) {
      decoder_->Feed(raw);
      return DrainDecoder();
    }
    if (handlers_.on_body) handlers_.on_body(raw);
    return !done_;
  }

  // Delivers decoded pieces until the decoder needs input. False when it
  // stopped before: paused (the rest waits in the decoder, and no socket
  // read is issued, until Resume()), cancelled, failed or finished.
  bool DrainDecoder() {
    while (!decoder_->NeedsInput()) {
      if (done_ || paused_.load() || cancel_requested_.load()) return false;
      if (decoded_buffer_.empty()) decoded_buffer_.resize(ReadBufferBytes());
      absl::StatusOr<size_t> n =
          decoder_->Read(decoded_buffer_.data(), decoded_buffer_.size());
      if (!n.ok()) {
        Fail(FromOrigin(n.status()));
        return false;
      }
      if (*n == 0) break;
      if (handlers_.on_body) {
        handlers_.on_body(absl::string_view(decoded_buffer_.data(), *n));
      }
    }
    return !done_;
  }

  // False when the response was a redirect now being followed.
  bool OnHeaderDone() {
    const int status = parser_->get().result_int();
    if (status >= 100 && status < 200 && status != 101) {
      // An interim response (100 Continue, 103 Early Hints); the real one
      // follows.
      NewParser();
      return true;
    }
    // From here on, parse across chunk boundaries so each on_body is as full as
    // allowed.
    parser_->eager(true);
    HttpResponseHead head;
    head.status = status;
    for (const auto& field : parser_->get()) {
      head.headers.emplace_back(ToStd(field.name_string()),
                                ToStd(field.value()));
    }
    // The parser keeps what the body needs (framing, keep-alive) in its own
    // state; the copy above is what anyone reads, so its fields can go (a
    // few hundred bytes that a GET stream would hold for hours).
    parser_->get().clear();
    if (IsRedirectStatus(status)) {
      RedirectRequest redirect;
      redirect.method = request_.method;
      redirect.status = status;
      if (const std::string* location = FindHeader(head.headers, "location")) {
        redirect.location = *location;
      }
      redirect.visited = visited_;
      redirect.max_hops = options_.max_redirects;
      redirect.allowlist = options_.redirect_allowlist.get();
      RedirectDecision decision = DecideRedirect(redirect);
      if (decision.follow) {
        FollowRedirect(status, std::move(decision.target));
        return false;
      }
      head.redirect_refusal = std::move(decision.refusal);
    }
    // Answered and not redirected: the request cannot go again (no retry
    // after response bytes), so what only a resend needs can go. A GET
    // stream lives for hours; this is most of what it held.
    wire_ = {};
    request_.headers = {};
    visited_ = {};
    absl::StatusOr<std::unique_ptr<ContentDecoder>> decoder =
        ContentDecoder::Create(ContentEncoding(head.headers));
    if (decoder.ok()) {
      decoder_ = *std::move(decoder);
    } else {
      decode_status_ = FromOrigin(decoder.status());
    }
    if (handlers_.on_head) handlers_.on_head(head);
    return !done_;
  }

  // A decoding error, saying which upstream sent the body.
  absl::Status FromOrigin(const absl::Status& status) const {
    return absl::Status(status.code(),
                        absl::StrCat(status.message(), " from ", origin_));
  }

  // Re-sends the request, unchanged, to `target` on the same origin. The
  // redirect's own body is not read: its connection is closed rather than
  // drained, which costs one connect on a rare path.
  void FollowRedirect(int status, Url target) {
    SC_LOG(kDebug, "http client: following HTTP ", status, " from ", origin_,
           " to another path");
    CloseSocket();
    buffer_.clear();
    parser_.reset();
    reused_ = false;
    retried_ = false;
    written_ = false;
    got_response_bytes_ = false;
    wire_.target(ToBeast(target.target));
    request_.url = target;
    visited_.push_back(std::move(target));
    Send();
  }

  void Complete() {
    if (decoder_ != nullptr) {
      // A compressed body must end where its compressed data does.
      if (absl::Status status = decoder_->Finish(); !status.ok()) {
        Fail(FromOrigin(status));
        return;
      }
    }
    const bool reusable = parser_->keep_alive() && !parser_->need_eof() &&
                          buffer_.size() == 0 && !cancel_requested_.load();
    Finish(absl::OkStatus(), reusable);
  }

  // Only a reused connection that died before answering is retried, since a
  // server may close an idle keep-alive connection just as we reuse it. Once
  // the whole request was written, though, the server may have received and
  // acted on it before dying (F5: a tools/call would run twice), so from then
  // on only methods that are safe to repeat (RFC 9110 section 9.2.2) go again.
  bool CanRetry() const {
    if (!reused_ || retried_ || got_response_bytes_ ||
        cancel_requested_.load()) {
      return false;
    }
    return !written_ || idempotent_;
  }

  // True when the only thing that stopped a replay was the request's method.
  bool RefusedReplay() const {
    return reused_ && !retried_ && !got_response_bytes_ && written_ &&
           !idempotent_;
  }

  void Retry() {
    SC_LOG(kDebug, "http client: pooled connection to ", origin_,
           " was closed; retrying on a new one");
    retried_ = true;
    reused_ = false;
    written_ = false;
    CloseSocket();
    buffer_.clear();
    parser_.reset();
    Connect();
  }

  // The timeout of the operation in flight. Every write and read arms one, so
  // the timer is not re-armed for each: it keeps waiting and, when it fires
  // before the current deadline, waits again for the rest (a cancel and a new
  // wait per read would cost a handler and a timer-queue update each).
  void ArmTimer(absl::Duration timeout) {
    if (timeout >= kNoTimeout) {
      deadline_.reset();
      return;
    }
    deadline_ =
        Clock::now() +
        std::chrono::duration_cast<Clock::duration>(
            absl::ToChronoNanoseconds(std::max(timeout, absl::ZeroDuration())));
    if (!timer_waiting_ || timer_.expiry() > *deadline_) WaitForDeadline();
  }

  void DisarmTimer() { deadline_.reset(); }

  void WaitForDeadline() {
    timer_waiting_ = true;
    const uint64_t wait = ++timer_wait_;
    timer_.expires_at(*deadline_);
    // Weak: a finished exchange must not live on until its timer would fire.
    timer_.async_wait([weak = weak_from_this(), wait](ErrorCode ec) {
      if (auto self = weak.lock()) self->OnTimer(ec, wait);
    });
  }

  void OnTimer(ErrorCode ec, uint64_t wait) {
    // A deadline moved earlier re-armed the timer; this wait is the old one.
    if (wait != timer_wait_) return;
    timer_waiting_ = false;
    if (ec || done_ || !deadline_.has_value()) return;
    if (Clock::now() < *deadline_) {
      WaitForDeadline();  // The operation in flight started later.
      return;
    }
    // Finish now rather than waiting for the aborted operation: a resolve
    // cannot be interrupted and would hold the caller hostage to the system
    // resolver.
    switch (phase_) {
      case Phase::kConnecting:
        Fail(absl::DeadlineExceededError(
            absl::StrCat("connecting to ", origin_, " timed out after ",
                         absl::FormatDuration(options_.connect_timeout))));
        return;
      case Phase::kWriting:
        Fail(absl::DeadlineExceededError(absl::StrCat(
            "sending the request to ", origin_, " timed out after ",
            absl::FormatDuration(options_.read_timeout))));
        return;
      default:
        Fail(absl::DeadlineExceededError(
            absl::StrCat("no response bytes from ", origin_, " for ",
                         absl::FormatDuration(options_.read_timeout))));
        return;
    }
  }

  void CloseSocket() {
    if (conn_ == nullptr) return;
    // A pending operation keeps the connection alive until it completes.
    conn_->Close();
    conn_.reset();
  }

  void Fail(absl::Status status) {
    Finish(std::move(status), /*reusable=*/false);
  }

  void FailLater(absl::Status status) {
    asio::post(strand_, [self = shared_from_this(),
                         status = std::move(status)]() mutable {
      self->Fail(std::move(status));
    });
  }

  void Finish(absl::Status status, bool reusable) {
    if (done_) return;
    done_ = true;
    phase_ = Phase::kDone;
    DisarmTimer();
    timer_.cancel();
    if (resolver_ != nullptr) resolver_->cancel();
    if (conn_ != nullptr && reusable && status.ok()) {
      client_->pool().Put(origin_, std::move(conn_));
    } else {
      // Also aborts whatever operation is pending; its handler sees done_ and
      // returns.
      CloseSocket();
    }
    if (id_ != 0) client_->Unregister(id_);
    parser_.reset();
    auto on_done = std::move(handlers_.on_done);
    handlers_.on_head = nullptr;
    handlers_.on_body = nullptr;
    if (on_done) on_done(std::move(status));
  }

  const std::shared_ptr<ClientState> client_;
  const HttpClientOptions& options_;
  asio::any_io_executor strand_;
  HttpRequest request_;
  HttpHandlers handlers_;
  uint64_t id_ = 0;  // Set by Launch() before anything runs on the strand.

  // Touched on strand_ only.
  std::string origin_;
  http::request<http::string_body> wire_;
  bool head_request_ = false;
  std::unique_ptr<tcp::resolver> resolver_;
  std::shared_ptr<TlsContext> tls_;  // Set for https.
  std::shared_ptr<HttpConnection> conn_;
  asio::steady_timer timer_;
  std::optional<Clock::time_point> deadline_;  // Of the operation in flight.
  bool timer_waiting_ = false;
  uint64_t timer_wait_ = 0;  // Numbers the waits, so a superseded one is known.
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  std::string body_buffer_;
  // The response's Content-Encoding: its decoder (null for none), or why it
  // cannot be decoded.
  std::unique_ptr<ContentDecoder> decoder_;
  absl::Status decode_status_;
  std::string decoded_buffer_;
  // Every URL the request went to, the original first (redirects).
  std::vector<Url> visited_;
  Phase phase_ = Phase::kStarting;
  bool reused_ = false;
  bool retried_ = false;
  bool idempotent_ = false;  // GET, HEAD, DELETE: may be sent twice.
  bool written_ = false;     // The whole request reached the socket.
  bool got_response_bytes_ = false;
  bool read_in_flight_ = false;
  bool done_ = false;
  bool draining_ = false;    // Drain(): the body is read only to end it.
  size_t drain_budget_ = 0;  // Bytes Drain() may still discard.

  // Written from any thread.
  std::atomic<bool> paused_{false};
  std::atomic<bool> cancel_requested_{false};
};

void ClientState::Shutdown() {
  std::vector<std::shared_ptr<ExchangeImpl>> live;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    for (const auto& [id, weak] : exchanges_) {
      if (auto exchange = weak.lock()) live.push_back(std::move(exchange));
    }
  }
  pool_.Close();
  for (const auto& exchange : live) exchange->Cancel();
}

}  // namespace

std::optional<std::string> HttpResponseHead::Header(
    absl::string_view name) const {
  const std::string* value = FindHeader(headers, name);
  if (value == nullptr) return std::nullopt;
  return *value;
}

std::string HttpResponseHead::MediaType() const {
  const std::optional<std::string> content_type = Header("content-type");
  if (!content_type.has_value()) return "";
  absl::string_view essence = *content_type;
  essence = essence.substr(0, essence.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(essence));
}

class HttpClient::Impl : public ClientState {
 public:
  using ClientState::ClientState;
};

HttpClient::HttpClient(boost::asio::io_context& ioc, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(ioc, options)) {}

HttpClient::~HttpClient() { impl_->Shutdown(); }

std::shared_ptr<HttpExchange> HttpClient::Start(
    boost::asio::any_io_executor executor, HttpRequest request,
    HttpHandlers handlers) {
  if (!executor) executor = impl_->ioc().get_executor();
  auto exchange = std::make_shared<ExchangeImpl>(
      impl_, std::move(executor), std::move(request), std::move(handlers));
  exchange->Launch();
  return exchange;
}

void HttpClient::Shutdown() { impl_->Shutdown(); }

size_t HttpClient::idle_connections() const {
  return impl_->pool().idle_count();
}

}  // namespace shadowcat
