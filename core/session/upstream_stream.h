#ifndef SHADOWCAT_CORE_SESSION_UPSTREAM_STREAM_H_
#define SHADOWCAT_CORE_SESSION_UPSTREAM_STREAM_H_

// One logical upstream stream of a session: a POSTed message and whatever
// answers it (202, a JSON body, or an SSE stream), or the standalone GET
// stream. When an SSE stream ends before its owner is done with it, the stream
// resumes itself with GET + Last-Event-ID (RZ-02: never by re-POSTing), after
// the server's `retry:` or a backoff (ReconnectPolicy), as many times as it
// makes progress (RZ-10). One SseParser serves every connection of the stream,
// so its cursor and retry survive reconnects (WS-18).
//
// States: Connecting -> Connected -> (Reconnecting -> Connected)* -> Closed |
// Failed. Terminal states are reported once through Delegate::OnStreamEnded,
// except after Close(), which the owner asked for.
//
// Threading: every method runs on the session's strand, and so do all
// delegate calls. Ownership: the session owns its streams; the stream holds
// its delegate weakly and its HTTP exchange strongly, and the exchange's
// handlers hold the stream weakly, so there is no cycle and a paused exchange
// (no I/O pending) stays alive as long as its stream.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/steady_timer.hpp"
#include "core/common/lazy_timer.h"
#include "core/http/http_client.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/connection_budget.h"
#include "core/session/event_sink.h"
#include "core/session/reconnect_policy.h"
#include "core/sse/sse_parser.h"

namespace shadowcat {

class UpstreamStream;

// How a stream ended, for its delegate.
struct StreamEnd {
  // OK when the stream completed (a JSON body, 202, or an SSE body that ended
  // after the owner had what it wanted); otherwise why it failed.
  absl::Status status;
  StreamReason reason = StreamReason::kComplete;
  // The HTTP status of a non-2xx answer, and (up to 64 KiB of) its body. The
  // status was built from them by UpstreamHttpError (SH-07).
  int http_status = 0;
  std::string error_body;
};

class UpstreamStreamDelegate {
 public:
  virtual ~UpstreamStreamDelegate() = default;
  // The head of every HTTP response of the stream.
  virtual void OnStreamHead(UpstreamStream& stream,
                            const HttpResponseHead& head) = 0;
  // One JSON-RPC message text: a JSON body, or an SSE `message` event's data.
  // `new_event_id` is the event's id when the event carried one the stream had
  // not seen (ids are sticky in SSE, so a repeated id means "no id"), else "".
  // kPaused stops reading until Resume(); kClosed is treated as kOk.
  virtual EventSink::PushResult OnStreamMessage(
      UpstreamStream& stream, std::string json,
      const std::string& new_event_id) = 0;
  // An SSE event of another type than `message`, with data: the legacy
  // transport's `endpoint` (LG-01). Others have no meaning in MCP.
  virtual void OnStreamControlEvent(UpstreamStream& stream,
                                    absl::string_view type,
                                    absl::string_view data) {}
  // The stream reached Closed or Failed on its own.
  virtual void OnStreamEnded(UpstreamStream& stream, StreamEnd end) = 0;
  // Headers for a resuming or standalone GET (session id, negotiated
  // version, the caller's headers): they may change while a stream lives.
  virtual HeaderList StreamHeaders() = 0;
};

struct UpstreamStreamOptions {
  StreamKind kind = StreamKind::kPost;
  Url url;
  // kPost: the headers of the POST and its one JSON-RPC message; whether the
  // message is a request (so an answer must carry its response, SH-06).
  HeaderList post_headers;
  std::string post_body;
  bool expects_response = false;
  // kPost: a long-lived stream that mostly waits (subscriptions/listen), read
  // without holding buffers while idle (HttpRequest::mostly_idle). GETs
  // always are.
  bool mostly_idle = false;
  // Legacy HTTP+SSE (LG-01): a request's response comes on the session's SSE
  // stream, so 202 is the expected answer to its POST, not an error (SH-06).
  bool response_elsewhere = false;
  // A dropped stream resumes with GET + Last-Event-ID (RZ-02). The legacy
  // transport has no resumption (LG-04): its stream ends for good.
  bool resumable = true;
  // kGet only: a dropped GET may be re-opened without Last-Event-ID when it
  // never carried an id (a standalone stream has nothing to lose).
  bool reopen_without_event_id = false;
  // Added to every GET of this stream: the standalone GET and its reopens,
  // and the GETs that resume a POST's SSE stream (RZ-02). They continue the
  // request that opened the stream, so they carry its W3C trace context.
  HeaderList get_headers;
  // A JSON body or SSE event larger than this fails the stream (PX-06).
  size_t max_message_bytes = 4 << 20;
  ReconnectOptions reconnect;
  // A stream paused by a slow backend this long fails. Zero: never.
  absl::Duration stall_timeout = absl::Minutes(5);
};

class UpstreamStream : public std::enable_shared_from_this<UpstreamStream> {
 public:
  enum class State { kConnecting, kConnected, kReconnecting, kClosed, kFailed };

  // Snapshot for GetSession.
  struct Info {
    StreamKind kind;
    State state;
    std::string last_event_id;
    uint32_t reconnects = 0;
    uint64_t events = 0;
    uint64_t bytes = 0;
    bool paused = false;
  };

  // `permits` are held for the stream's lifetime: an upstream connection,
  // including the wait before a reconnect (PX-05).
  UpstreamStream(UpstreamStreamOptions options, HttpClient& http,
                 boost::asio::any_io_executor strand, ShadowcatMetrics& metrics,
                 std::weak_ptr<UpstreamStreamDelegate> delegate,
                 std::vector<ConnectionBudget::Permit> permits);
  ~UpstreamStream();
  UpstreamStream(const UpstreamStream&) = delete;
  UpstreamStream& operator=(const UpstreamStream&) = delete;

  // Sends the POST (or opens the GET).
  void Start();

  // Ends the stream at the owner's request (response received, cancel, close):
  // aborts the connection or the pending reconnect. No OnStreamEnded follows.
  void Close(StreamReason reason = StreamReason::kComplete);

  // Flow control (EventSink's kPaused): stop/restart reading the socket.
  void Pause();
  void Resume();

  Info info() const;
  State state() const { return state_; }
  StreamKind kind() const { return options_.kind; }
  bool finished() const {
    return state_ == State::kClosed || state_ == State::kFailed;
  }
  // The last event id seen (the resumption cursor, RZ-01).
  const std::string& last_event_id() const { return parser_.last_event_id(); }

 private:
  enum class BodyKind { kNone, kDrain, kJson, kSse, kError };

  void Connect(HttpRequest request);
  void Reconnect();
  // A GET of this stream's URL: the session's stream headers, the
  // stream's own (trace context) and Accept. Start() and Reconnect() add to it.
  HttpRequest GetRequest(UpstreamStreamDelegate& d) const;
  void OnHead(const HttpResponseHead& head);
  void OnBody(absl::string_view chunk);
  void OnSseEvent(const SseEvent& event);
  void OnHttpDone(absl::Status status);
  // The SSE body ended (or broke) before the owner closed the stream;
  // `reason` for the transition when the status does not tell it.
  void OnSseEnded(absl::Status status,
                  std::optional<StreamReason> reason = std::nullopt);
  void Deliver(std::string json, const std::string& new_event_id);
  void End(StreamEnd end);
  void EndWith(absl::Status status, StreamReason reason) {
    End(StreamEnd{std::move(status), reason});
  }
  void SetState(State state, StreamReason reason);
  void ArmStallTimer();
  std::shared_ptr<UpstreamStreamDelegate> delegate() const {
    return delegate_.lock();
  }

  const UpstreamStreamOptions options_;
  HttpClient& http_;
  boost::asio::any_io_executor strand_;
  ShadowcatMetrics& metrics_;
  const std::weak_ptr<UpstreamStreamDelegate> delegate_;
  std::vector<ConnectionBudget::Permit> permits_;

  // Strand-confined.
  State state_ = State::kConnecting;
  std::shared_ptr<HttpExchange> exchange_;
  // Counts connections, so late handlers of an abandoned one are ignored.
  uint64_t connection_ = 0;
  BodyKind body_kind_ = BodyKind::kNone;
  int http_status_ = 0;
  // The request of this connection carried Mcp-Session-Id (a 404 then means
  // an expired session, SM-05).
  bool sent_session_id_ = false;
  // Headers of a non-2xx answer that the caller may act on.
  std::string retry_after_;
  std::string www_authenticate_;
  std::string redirect_refusal_;
  std::string body_;  // a JSON body or an error body
  SseParser parser_;
  // The stream's cursor when the current connection started: a connection
  // that moved it made progress (RZ-10).
  std::string id_at_connect_;
  // The last `id` field of this connection's events (SS-06).
  std::string last_dispatched_id_;
  ReconnectPolicy policy_;
  LazyTimer reconnect_timer_;
  LazyTimer stall_timer_;
  bool paused_ = false;
  bool resumed_connection_ = false;
  uint32_t reconnects_ = 0;
  uint64_t events_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_UPSTREAM_STREAM_H_
