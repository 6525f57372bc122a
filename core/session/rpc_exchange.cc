#include "core/session/rpc_exchange.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/jsonrpc/jsonrpc_message.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

// Error bodies are read only to find a JSON-RPC error in them (SH-07); more is
// noise.
constexpr size_t kMaxErrorBodyBytes = 64 << 10;

absl::Status UpstreamInvalid(absl::string_view why) {
  return absl::UnavailableError(
      absl::StrCat("upstream sent an invalid response: ", why));
}

}  // namespace

std::shared_ptr<RpcExchange> RpcExchange::Start(
    HttpClient& client, asio::any_io_executor strand, RpcRequest request,
    RpcExchangeOptions options, ShadowcatMetrics& metrics,
    MessageCallback on_message, DoneCallback done) {
  auto self = std::make_shared<RpcExchange>(strand, std::move(request), options,
                                            metrics, std::move(on_message),
                                            std::move(done));
  HttpRequest http;
  http.method = "POST";
  http.url = self->request_.url;
  http.headers = self->request_.headers;
  http.headers.emplace_back("Content-Type", "application/json");
  http.headers.emplace_back("Accept",
                            "application/json, text/event-stream");  // SH-02
  http.body = self->request_.body;

  HttpHandlers handlers;
  handlers.on_head = [self](const HttpResponseHead& head) {
    self->OnHead(head);
  };
  handlers.on_body = [self](absl::string_view chunk) { self->OnBody(chunk); };
  handlers.on_done = [self](absl::Status status) {
    self->OnHttpDone(std::move(status));
  };

  if (options.deadline != absl::InfiniteFuture()) {
    self->timer_ = std::make_unique<asio::steady_timer>(strand);
    absl::Duration left =
        std::max(options.deadline - absl::Now(), absl::ZeroDuration());
    self->timer_->expires_after(absl::ToChronoMilliseconds(left));
    self->timer_->async_wait([self](boost::system::error_code ec) {
      if (!ec) self->OnDeadline();
    });
  }
  self->http_ = client.Start(strand, std::move(http), std::move(handlers));
  return self;
}

RpcExchange::RpcExchange(asio::any_io_executor strand, RpcRequest request,
                         RpcExchangeOptions options, ShadowcatMetrics& metrics,
                         MessageCallback on_message, DoneCallback done)
    : strand_(std::move(strand)),
      request_(std::move(request)),
      options_(options),
      metrics_(metrics),
      on_message_(std::move(on_message)),
      done_(std::move(done)),
      sse_(SseParserOptions{options.max_message_bytes}) {}

void RpcExchange::Cancel() {
  Finish(absl::CancelledError("request cancelled"));
}

void RpcExchange::OnDeadline() {
  Finish(absl::DeadlineExceededError(
      "deadline passed before the upstream answered"));
}

void RpcExchange::OnHead(const HttpResponseHead& head) {
  if (finished_) return;
  result_.http_status = head.status;
  result_.session_id_header = head.Header("Mcp-Session-Id");
  metrics_.upstream_http_responses_total(head.status).Increment();
  if (head.status < 200 || head.status >= 300) {
    body_kind_ = BodyKind::kError;
    return;
  }
  const bool is_request = !request_.id_raw.empty();
  std::string media = head.MediaType();
  if (!is_request) {
    body_kind_ =
        BodyKind::kNone;  // SH-04: 202 (or 204, or 200) with a body we drain
    return;
  }
  if (head.status == 202 || head.status == 204) {
    // SH-06: a request answered without a response must not hang the caller.
    Finish(UpstreamInvalid(
        absl::StrCat("HTTP ", head.status, " answered a request")));
    return;
  }
  if (media == "application/json") {
    body_kind_ = BodyKind::kJson;
  } else if (media == "text/event-stream") {
    body_kind_ = BodyKind::kSse;
  } else {
    Finish(UpstreamInvalid(
        absl::StrCat("unexpected Content-Type \"", media.substr(0, 64), "\"")));
  }
}

void RpcExchange::OnBody(absl::string_view chunk) {
  if (finished_) return;
  metrics_.upstream_bytes_received_total().Increment(
      static_cast<double>(chunk.size()));
  switch (body_kind_) {
    case BodyKind::kNone:
      return;
    case BodyKind::kError:
      if (body_.size() < kMaxErrorBodyBytes) {
        absl::string_view kept =
            chunk.substr(0, kMaxErrorBodyBytes - body_.size());
        body_.append(kept.data(), kept.size());
      }
      return;
    case BodyKind::kJson:
      if (body_.size() + chunk.size() > options_.max_message_bytes) {
        metrics_.limit_rejections_total(LimitKind::kMessageBytes).Increment();
        Finish(absl::ResourceExhaustedError(
            absl::StrCat("upstream response exceeds ",
                         options_.max_message_bytes, " bytes")));
        return;
      }
      body_.append(chunk.data(), chunk.size());
      return;
    case BodyKind::kSse: {
      absl::Status status = sse_.Feed(
          chunk, [this](const SseEvent& event) { OnSseEvent(event); });
      if (!status.ok() && !finished_) {
        metrics_.limit_rejections_total(LimitKind::kMessageBytes).Increment();
        Finish(absl::ResourceExhaustedError(
            absl::StrCat("upstream SSE event exceeds ",
                         options_.max_message_bytes, " bytes")));
      }
      return;
    }
  }
}

void RpcExchange::OnSseEvent(const SseEvent& event) {
  if (finished_) return;
  metrics_.sse_events_total().Increment();
  // RZ-04: an event with empty data primes the stream with an id; there is no
  // message.
  if (event.data.empty()) return;
  if (event.type != "message")
    return;  // MCP sends JSON-RPC only as "message" events
  OnMessage(event.data, event.id);
}

void RpcExchange::OnMessage(absl::string_view json,
                            absl::string_view event_id) {
  absl::StatusOr<JsonRpcMessage> message = ParseJsonRpcMessage(json);
  if (!message.ok()) {
    metrics_.parse_errors_total(ParseErrorKind::kUpstreamJson).Increment();
    if (body_kind_ == BodyKind::kJson) {
      Finish(UpstreamInvalid(message.status().message()));
    }
    return;  // on a stream, LevelDB-Reporter style: drop the bad event, keep
             // reading
  }
  switch (message->kind) {
    case JsonRpcKind::kRequest:
    case JsonRpcKind::kNotification:
      if (on_message_) {
        on_message_(UpstreamMessage{std::string(json), message->method,
                                    std::string(message->id_raw),
                                    std::string(event_id)});
      }
      return;
    case JsonRpcKind::kResultResponse:
    case JsonRpcKind::kErrorResponse:
      break;
  }
  if (message->id_raw != request_.id_raw) {
    // SS-05: responses are matched by id; one for another request is not ours
    // to take.
    if (body_kind_ == BodyKind::kJson) {
      Finish(UpstreamInvalid("the response id does not match the request"));
    }
    return;
  }
  RpcResult result = std::move(result_);
  if (message->kind == JsonRpcKind::kErrorResponse) {
    result.is_error = true;
    result.error_code = message->error_code;
    result.error_message = message->error_message;
    result.error_data_raw = std::string(message->error_data_raw);
  } else {
    result.result_raw = std::string(message->result_raw);
  }
  Finish(std::move(result));
}

void RpcExchange::OnHttpDone(absl::Status status) {
  http_done_ = true;
  if (finished_) return;
  if (!status.ok()) {
    Finish(std::move(status));
    return;
  }
  switch (body_kind_) {
    case BodyKind::kNone:
      Finish(std::move(result_));
      return;
    case BodyKind::kJson:
      OnMessage(body_, "");
      if (!finished_)
        Finish(UpstreamInvalid("the JSON body is not a response"));
      return;
    case BodyKind::kSse:
      sse_.Finish();
      // Resumption with Last-Event-ID (RZ-02) comes with the stream work; until
      // then a stream that ends early fails the call instead of hanging it.
      Finish(absl::UnavailableError(
          "upstream closed the SSE stream before responding"));
      return;
    case BodyKind::kError: {
      // SH-07: prefer the upstream's own JSON-RPC error to a status-derived
      // one.
      absl::StatusOr<JsonRpcMessage> message = ParseJsonRpcMessage(body_);
      if (message.ok() && message->kind == JsonRpcKind::kErrorResponse &&
          result_.http_status != 404) {
        RpcResult result = std::move(result_);
        result.is_error = true;
        result.error_code = message->error_code;
        result.error_message = message->error_message;
        result.error_data_raw = std::string(message->error_data_raw);
        Finish(std::move(result));
        return;
      }
      Finish(HttpErrorStatus());
      return;
    }
  }
}

absl::Status RpcExchange::HttpErrorStatus() const {
  const int code = result_.http_status;
  std::string what = absl::StrCat("upstream returned HTTP ", code, " for POST");
  switch (code) {
    case 400:
      return absl::InvalidArgumentError(what);
    case 401:
      return absl::UnauthenticatedError(what);
    case 403:
      return absl::PermissionDeniedError(what);
    case 404:
      return absl::NotFoundError(
          absl::StrCat(what, ": the upstream session expired"));
    case 408:
    case 504:
      return absl::DeadlineExceededError(what);
    case 429:
      return absl::ResourceExhaustedError(what);
    default:
      if (code >= 500) return absl::UnavailableError(what);
      return absl::FailedPreconditionError(what);
  }
}

void RpcExchange::Finish(absl::StatusOr<RpcResult> result) {
  if (finished_) return;
  finished_ = true;
  if (timer_) timer_->cancel();
  // Once the response is in, the rest of the stream is of no use to this
  // exchange (SS-02); closing it also frees the connection slot for the
  // session's budget.
  if (!http_done_) {
    if (std::shared_ptr<HttpExchange> http = http_.lock()) http->Cancel();
  }
  on_message_ = nullptr;
  auto done = std::move(done_);
  done(std::move(result));
}

}  // namespace shadowcat
