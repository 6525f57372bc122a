#ifndef SHADOWCAT_CORE_SESSION_SESSION_H_
#define SHADOWCAT_CORE_SESSION_SESSION_H_

// One MCP client session with one upstream (session era: 2025-03-26 ..
// 2025-11-25): initialize + notifications/initialized, the negotiated
// MCP-Protocol-Version and the upstream's Mcp-Session-Id on every later
// request, and DELETE on close.
//
// The session owns its upstream streams (UpstreamStream: each POST that turns
// into an SSE stream, and the standalone GET) and a map of pending requests by
// upstream id. A response is routed by its id to its caller whichever stream
// carries it (SS-05), once: duplicates after a replay are dropped (SS-06).
// Server requests and notifications go to the CallStream of the request they
// arrived for, or else to the session's subscribers (Subscribe). Progress
// tokens are the session's own upstream and mapped back (PX-02).
//
// Threading: a Session lives on its own strand. Public methods may be called
// from any thread: they post to the strand. Everything private runs on the
// strand (asserted), every callback and sink call is made there, and nothing
// blocks. The sidecar owns the upstream JSON-RPC id space (PX-01).

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "core/common/lazy_timer.h"
#include "core/config/config.h"
#include "core/http/http_client.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/connection_budget.h"
#include "core/session/event_sink.h"
#include "core/session/reconnect_policy.h"
#include "core/session/server_message_feed.h"
#include "core/session/tool_hints.h"
#include "core/session/upstream_stream.h"

namespace shadowcat {

struct SessionParams {
  Url url;
  HeaderList extra_headers;        // validated caller headers, on every request
  std::string offered_version;     // validated; what initialize offers
  std::string client_info_raw;     // JSON object for clientInfo
  std::string capabilities_raw;    // JSON object for capabilities
  absl::Duration request_timeout;  // default deadline for calls without one
  bool open_server_stream = false;  // open the GET stream after initialize
  // The OpenSession call's W3C trace context: on the first initialize,
  // notifications/initialized and the GET stream opened with the session
  // (not on a recovery's re-initialize, which no caller asked for).
  HeaderList trace_headers;
  // VN-11: ask with server/discover first and fall back to initialize unless
  // the answer is modern (the caller pinned no version).
  bool probe_modern_era = false;
};

// How Shadowcat talks to the upstream: Streamable HTTP, or the legacy
// HTTP+SSE transport of 2024-11-05 after a fallback (LG-02).
enum class UpstreamTransport { kStreamableHttp, kLegacySse };

// The protocol era: 2024-11-05 .. 2025-11-25 have initialize and (over
// Streamable HTTP) upstream sessions; 2026-07-28 has neither (section 13).
enum class ProtocolEra { kSession, kSessionless };

struct InitializeResult {
  UpstreamTransport transport = UpstreamTransport::kStreamableHttp;
  ProtocolEra era = ProtocolEra::kSession;
  std::string protocol_version;
  std::string server_info_raw;
  std::string capabilities_raw;
  std::string instructions;
};

// Whether the server stream is there: the standalone GET (SS-04), or in
// 2026-07-28 the subscriptions/listen stream (kUnsupported: the server
// advertises no list changes, or refuses the method).
enum class ServerStreamStatus { kNotOpened, kOpen, kUnsupported, kFailed };

struct StreamSnapshot {
  UpstreamStream::Info info;
  std::string request_handle;  // POST streams of calls
};

// A description of a session, for GetSession / ListSessions.
struct SessionSnapshot {
  std::string id;
  std::string upstream_url;
  std::string protocol_version;
  UpstreamTransport transport = UpstreamTransport::kStreamableHttp;
  ProtocolEra era = ProtocolEra::kSession;
  bool open = false;
  bool has_upstream_session = false;
  uint64_t requests_total = 0;
  uint32_t requests_in_flight = 0;
  absl::Duration age;
  std::vector<StreamSnapshot> streams;
  ServerStreamStatus server_stream = ServerStreamStatus::kNotOpened;
  uint32_t server_requests_pending = 0;
  // Upstream sessions re-established after a 404 (SM-06).
  uint32_t reinitializations = 0;
};

struct CallParams {
  std::string method;
  std::string params_raw;  // validated JSON object/array, or empty
  // InfiniteFuture: the session's default timeout.
  absl::Time deadline = absl::InfiniteFuture();
  // The caller's handle for Cancel; empty: the session assigns one.
  std::string handle;
  // Whether the sink wants the messages sent for this call (CallStream).
  // Otherwise they go to the session's subscribers.
  bool stream_messages = false;
  // Added to this call's upstream POSTs (W3C traceparent/tracestate, already
  // validated by the caller).
  HeaderList trace_headers;
};

class Session : public UpstreamStreamDelegate,
                public std::enable_shared_from_this<Session> {
 public:
  struct Deps {
    boost::asio::io_context& ioc;
    HttpClient& http;
    ShadowcatMetrics& metrics;
    std::shared_ptr<ConnectionBudget> global_budget;
    const Config& config;
  };

  Session(std::string id, SessionParams params, Deps deps);
  ~Session() override;

  // Performs initialize and notifications/initialized (LC-01, LC-02). Errors:
  // FailedPrecondition for a version we do not speak (after a best-effort
  // DELETE, VN-03), Unavailable when the upstream is unreachable or misbehaves.
  void Initialize(
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);

  // Sends a request; its outcome goes to sink->Finish(), after
  // sink->Started(handle). Errors: NotFound (session closed or expired),
  // ResourceExhausted (per-session or global connection limit), AlreadyExists
  // (the handle names a call in flight), DeadlineExceeded (a
  // notifications/cancelled went upstream, TO-01), Cancelled (Cancel() or the
  // sink's client went away; CN-01), Unavailable (upstream down, stream lost
  // for good), and the HTTP mappings.
  void Call(CallParams params, std::shared_ptr<EventSink> sink);

  // Cancels a call in flight by handle: notifications/cancelled upstream
  // (CN-01), its stream closed and its slot freed at once; the call ends with
  // Cancelled. NotFound when no such call is in flight.
  void Cancel(std::string handle, std::string reason,
              absl::AnyInvocable<void(absl::Status)> done);

  // Sends a notification; OK once the upstream accepted it (202).
  // `trace_headers` as CallParams::trace_headers.
  void Notify(std::string method, std::string params_raw,
              absl::AnyInvocable<void(absl::Status)> done,
              HeaderList trace_headers = {});

  // Answers the server request `id_raw` (LC-04); `response_json` is complete.
  // NotFound when no such server request is waiting (already answered, timed
  // out, or never sent).
  void Respond(std::string id_raw, std::string response_json,
               absl::AnyInvocable<void(absl::Status)> done);

  // Adds a subscriber of server messages and opens the server stream if it is
  // not open: the GET stream, or in 2026-07-28 subscriptions/listen. With
  // `after_sequence`, buffered messages after it come first (OutOfRange through
  // sink->Finish when they were evicted).
  void Subscribe(std::optional<uint64_t> after_sequence,
                 std::shared_ptr<EventSink> sink);

  // Removes a subscriber whose client went away (in 2026-07-28, the last one
  // leaving ends the listen stream unless open_server_stream asked for it).
  void Unsubscribe(const EventSink* sink);

  // Cancels every call, ends subscribers, then sends DELETE when the upstream
  // gave a session id, bounded by close_timeout (SM-07); `done(true)` when the
  // upstream confirmed. Later calls fail with NotFound. `trace_headers` (the
  // CloseSession call's trace context) go on the DELETE.
  void Close(absl::AnyInvocable<void(bool upstream_deleted)> done,
             HeaderList trace_headers = {});

  // Describes the session (on its strand; `done` runs there).
  void Describe(absl::AnyInvocable<void(SessionSnapshot)> done);

  const std::string& id() const { return id_; }
  // False once closed or expired upstream (HTTP 404). Thread-safe and cheap.
  bool is_open() const { return open_.load(std::memory_order_acquire); }
  // When the session was last used by a caller (for idle expiry).
  absl::Time last_used() const;
  // Calls in flight or subscribers attached: the session is in use however
  // long ago its last call started. Thread-safe and cheap.
  bool busy() const { return busy_.load(std::memory_order_relaxed); }
  // The upstream URL without userinfo, query or fragment (for logs).
  std::string RedactedUrl() const;

  // UpstreamStreamDelegate (strand only):
  void OnStreamHead(UpstreamStream& stream,
                    const HttpResponseHead& head) override;
  EventSink::PushResult OnStreamMessage(
      UpstreamStream& stream, std::string json,
      const std::string& new_event_id) override;
  void OnStreamEnded(UpstreamStream& stream, StreamEnd end) override;
  void OnStreamControlEvent(UpstreamStream& stream, absl::string_view type,
                            absl::string_view data) override;
  HeaderList StreamHeaders() override;

 private:
  // kRecovering: the upstream forgot the session (404) and a new one is being
  // initialized under the same handle (SM-06); calls wait for it.
  enum class State { kNew, kInitializing, kOpen, kRecovering, kClosed };

  struct PendingCall {
    std::string handle;
    std::string id_raw;
    MethodLabel label = MethodLabel::kOther;
    std::shared_ptr<EventSink> sink;
    bool stream_messages = false;
    // PX-02: our token upstream (raw JSON) and the caller's own.
    std::string progress_token;
    std::string caller_progress_token;
    std::shared_ptr<UpstreamStream> stream;  // its POST stream, while alive
    // The request as sent and the params it was built from, to send it again
    // after a session recovery.
    std::string method;
    std::string post_body;
    HeaderList trace_headers;
    absl::Time deadline;      // in deadlines_ under this time
    bool initialize = false;  // CN-03: never cancelled, only given up on
    absl::Time started;
  };

  // A POST of a notification or response: done when accepted.
  using PostDone = absl::AnyInvocable<void(absl::Status)>;

  void DoInitialize(
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);
  // Sends initialize (+ initialized, through OnInitializeDone).
  void SendInitialize(
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);
  // SM-06: re-initializes after a 404; calls in `awaiting_recovery_` and
  // those queued meanwhile are (re)sent once it succeeded.
  void BeginRecovery();
  void OnRecovered(absl::Status status);
  // Sends a pending call's request again on a new POST stream.
  void RestartCall(const std::string& id_raw);
  // One timer for every call's deadline: it waits for the earliest, and a
  // call that ends in time only leaves the set (no timer, no cancel).
  void WatchDeadline(absl::Time deadline, const std::string& id_raw);
  void ArmDeadlineTimer();
  void OnDeadlineTimer();
  // Why a call cannot start now: closed (NotFound) or recovering.
  absl::Status NotOpenStatus() const;
  void OnInitializeDone(
      absl::StatusOr<RpcResult> result,
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);
  void DoCall(CallParams params, std::shared_ptr<EventSink> sink);
  // Starts a request with a fresh upstream id; Status when it could not start.
  absl::Status StartCall(CallParams params, std::shared_ptr<EventSink> sink);
  // Ends a pending call (once): closes its stream, maps its outcome, tells
  // its sink. `cancel_reason` set: a notifications/cancelled goes upstream.
  void FinishCall(const std::string& id_raw, absl::StatusOr<RpcResult> outcome,
                  std::optional<std::string> cancel_reason = std::nullopt);
  void OnCallStreamEnded(const std::string& id_raw, StreamEnd end);
  // POSTs a notification or response.
  void PostMessage(std::string label_method, std::string body, PostDone done,
                   HeaderList trace_headers = {});
  // `trace_headers`: the cancelled call's, so the cancellation joins its trace.
  void SendCancelled(const std::string& id_raw, const std::string& reason,
                     HeaderList trace_headers);
  // `trace_headers` go on every GET of the stream (UpstreamStreamOptions).
  void OpenServerStream(HeaderList trace_headers = {});
  // Closes the GET stream, if any, as the owner (no OnStreamEnded follows).
  void CloseServerStream(StreamReason reason);
  // The server stream failed for good: subscribers end with `status`.
  void FailServerStream(const absl::Status& status);
  void OnServerRequest(UpstreamStream& stream, const std::string& id_raw,
                       absl::string_view method);
  void ExpireServerRequest(const std::string& id_raw);
  // The upstream id of the call whose CallStream gets server messages that
  // arrive on `stream`, or null (they go to subscribers).
  const std::string* CallStreamFor(const UpstreamStream& stream) const;
  // Routes a server request or notification; returns the delivery's result.
  EventSink::PushResult RouteServerMessage(UpstreamStream& stream,
                                           ServerMessage message);
  EventSink::PushResult PushToSubscribers(ServerMessage message,
                                          UpstreamStream& stream);
  // BA-01: a JSON array from upstream, demultiplexed on 2025-03-26 sessions.
  EventSink::PushResult OnBatch(UpstreamStream& stream,
                                const std::string& json);
  // PX-02: progress for a call's token, mapped back, to that call's sink.
  EventSink::PushResult OnProgress(UpstreamStream& stream, std::string json,
                                   const std::string& params_raw,
                                   const std::string& event_id);
  // Remembers which sink paused `stream`, to resume it when that sink drains.
  void NotePaused(UpstreamStream& stream, EventSink::PushResult result,
                  const EventSink* sink);
  void OnSinkResumed(const EventSink* sink);
  void AttachSink(EventSink& sink);
  // 404 on a request with a session id (SM-05) or on a resume (SM-08).
  void MarkExpired();
  bool IsDuplicateEvent(const std::string& event_id);
  // One slot of the session's and one of the global budget (PX-05), or
  // ResourceExhausted (counted).
  absl::StatusOr<std::vector<ConnectionBudget::Permit>> AcquirePermits(
      MethodLabel label);
  std::shared_ptr<UpstreamStream> NewStream(
      UpstreamStreamOptions options,
      std::vector<ConnectionBudget::Permit> permits);
  void SendDelete(absl::AnyInvocable<void(bool)> done,
                  HeaderList trace_headers = {});
  SessionSnapshot MakeSnapshot() const;
  void Touch();
  // Recomputes busy_ after calls or subscribers came or went.
  void UpdateBusy();
  // Headers of every request after initialize (VN-04, SM-03, AU-02).
  HeaderList SessionHeaders() const;

  // Legacy HTTP+SSE (session_legacy.cc). LG-02: whether the failed initialize
  // POST asks for the legacy transport.
  bool ShouldFallBackToLegacy(const StreamEnd& end) const;
  void StartLegacyTransport(const std::string& init_id_raw, StreamEnd end);
  // Opens the legacy SSE stream; its `endpoint` event starts the deferred
  // initialize (legacy_init_id_).
  void OpenLegacyStream();
  void OnLegacyEndpoint(absl::string_view data);
  // LG-04: the legacy stream carried every response; without it the session
  // is gone.
  void OnLegacyStreamLost(StreamEnd end);
  // Whether a POST can go out now (the legacy endpoint may be unknown yet).
  bool CanPost() const;

  // The 2026-07-28 era (session_modern.cc). Discovery instead of initialize.
  void SendDiscover(
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);
  void OnDiscoverDone(
      absl::StatusOr<RpcResult> result,
      absl::AnyInvocable<void(absl::StatusOr<InitializeResult>)> done);
  // VN-10: initialize refused with -32022 by a server that names 2026-07-28.
  bool ShouldSwitchToModern(const StreamEnd& end) const;
  // The request's params with the per-request _meta envelope (VN-10), and
  // the Mcp-Method / Mcp-Name headers (section 13 item 6).
  std::string WithModernMeta(absl::string_view params_raw) const;
  static void AddModernRequestHeaders(absl::string_view method,
                                      absl::string_view params_raw,
                                      HeaderList& headers);

  // subscriptions/listen (session_listen.cc): the 2026-07-28 server stream.
  // One per session, opened like the GET stream, re-issued with a new id
  // after a drop (RZ-11) under the reconnect policy.
  void OpenListenStream();
  void OnListenAcknowledged(absl::string_view params_raw);
  // The response to the listen request: the server ended it (SHOULD, with a
  // result) or refused it (an error).
  void OnListenResponse(const JsonRpcMessage& message);
  void OnListenStreamEnded(StreamEnd end);
  // Ends the listen stream when no subscriber is left to read it.
  void MaybeEndListenStream();

  const std::string id_;
  const SessionParams params_;
  Deps deps_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const absl::Time created_;
  const std::shared_ptr<ConnectionBudget> budget_;

  // Strand-confined.
  State state_ = State::kNew;
  bool closed_ = false;  // Close() ran: no second DELETE
  int64_t next_request_id_ = 1;
  uint64_t next_handle_ = 1;
  std::string protocol_version_;
  std::string upstream_session_id_;
  // Mcp-Session-Id of the initialize response (SM-01: only from there).
  std::optional<std::string> init_session_id_;
  UpstreamStream* init_stream_ = nullptr;
  absl::flat_hash_map<std::string, PendingCall> pending_;   // by upstream id
  absl::flat_hash_map<std::string, std::string> handles_;   // handle -> id
  absl::flat_hash_map<std::string, std::string> progress_;  // token -> id
  // Every live stream; and which call (upstream id) a POST stream serves.
  absl::flat_hash_map<const UpstreamStream*, std::shared_ptr<UpstreamStream>>
      streams_;
  absl::flat_hash_map<const UpstreamStream*, std::string> stream_calls_;
  absl::flat_hash_map<const UpstreamStream*, PostDone> posts_;
  absl::flat_hash_map<const UpstreamStream*, const EventSink*> paused_by_;
  // The server stream: the standalone GET (session era), the legacy
  // transport's SSE stream, or the subscriptions/listen POST (2026-07-28).
  std::shared_ptr<UpstreamStream> get_stream_;
  ServerStreamStatus server_stream_ = ServerStreamStatus::kNotOpened;
  // Server requests waiting for a backend, each with its timeout.
  absl::flat_hash_map<std::string, std::unique_ptr<boost::asio::steady_timer>>
      server_requests_;
  ServerMessageFeed feed_;
  // Event ids delivered recently (SS-06): a bounded window, oldest first.
  absl::flat_hash_set<std::string> seen_event_ids_;
  // A list, not a deque: libstdc++'s deque allocates 576 bytes when made,
  // and most sessions never see an event id.
  std::list<std::string> seen_order_;
  uint64_t requests_total_ = 0;
  uint32_t reinitializations_ = 0;
  // SM-06 bookkeeping, while kRecovering.
  std::vector<std::string> awaiting_recovery_;
  // A vector, not a deque: libstdc++'s deque allocates 576 bytes when made,
  // and every session has one of these, nearly always empty.
  std::vector<std::pair<CallParams, std::shared_ptr<EventSink>>> queued_calls_;
  bool reopen_server_stream_ = false;
  // Legacy HTTP+SSE: the transport in use, the `endpoint` URL POSTs go to
  // (unset until the stream named it), the initialize waiting for it, and why
  // the Streamable HTTP initialize failed (for the error if the fallback fails
  // too).
  UpstreamTransport transport_ = UpstreamTransport::kStreamableHttp;
  // 2026-07-28: no initialize, no session id, no GET, no resumption, and
  // cancellation by closing the stream. switching_to_modern_: initialize was
  // refused for it and discovery follows.
  bool modern_ = false;
  bool switching_to_modern_ = false;
  // VN-11: server/discover was sent as a probe; initialize follows unless it
  // is answered the modern way.
  bool probing_modern_ = false;
  std::string server_capabilities_raw_;  // from server/discover
  // The listen request in flight (its upstream id), whether the server
  // acknowledged it (progress for the policy), the filter it acknowledged, and
  // the wait before it is issued again.
  struct Listen {
    std::string id_raw;
    bool acknowledged = false;
    bool honours_nothing = false;
    std::unique_ptr<ReconnectPolicy> policy;
    std::unique_ptr<boost::asio::steady_timer> retry;
  } listen_;
  // SM-08: tools whose calls may be sent again after a recovery.
  ToolHints tool_hints_;
  std::optional<Url> legacy_post_url_;
  std::string legacy_init_id_;
  absl::Status streamable_failure_;

  // Strand-confined: calls' deadlines, earliest first, and their timer.
  absl::btree_set<std::pair<absl::Time, std::string>> deadlines_;
  LazyTimer deadline_timer_;
  std::optional<absl::Time> deadline_timer_at_;  // while it waits

  std::atomic<bool> open_{false};
  std::atomic<bool> busy_{false};
  std::atomic<int64_t> last_used_unix_nanos_;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_SESSION_H_
