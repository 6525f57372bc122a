#include "tests/fakes/fake_mcp_server.h"

#include <utility>
#include <variant>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "server/mcp_wire.h"
#include "tests/fakes/content_coding.h"

namespace shadowcat {
namespace {

// One request on its way to an answer: what arrived, and the script that shapes
// the reply.
struct Exchange {
  std::string http_method;
  std::variant<McpMessage, JsonRpcError> parsed;  // meaningful for POST only
  std::optional<ScriptedReply> script;
  std::shared_ptr<HttpResponseWriter> writer;

  const McpMessage* message() const {
    return http_method == "POST" ? std::get_if<McpMessage>(&parsed) : nullptr;
  }
  bool IsRpcRequest() const {
    return message() != nullptr && message()->kind == McpMessageKind::kRequest;
  }
};

// The unscripted answer: a status and, for requests, the JSON-RPC response.
struct Answer {
  int status = 200;
  std::optional<std::string> message;
};

bool IsSuccess(int status) { return status >= 200 && status < 300; }

// `id_json` re-serialized, so `"a"` and ` "a" ` compare equal; unparsable
// text stays as is.
std::string NormalizedIdJson(absl::string_view id_json) {
  boost::system::error_code ec;
  boost::json::value id = boost::json::parse(
      boost::json::string_view(id_json.data(), id_json.size()), ec);
  return ec ? std::string(id_json) : boost::json::serialize(id);
}

// The raw `result` (or else `error`) of a JSON-RPC response body.
std::string ResponsePayload(absl::string_view body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(
      boost::json::string_view(body.data(), body.size()), ec);
  if (ec || !value.is_object()) return "";
  const boost::json::object& object = value.as_object();
  if (const boost::json::value* result = object.if_contains("result")) {
    return boost::json::serialize(*result);
  }
  if (const boost::json::value* error = object.if_contains("error")) {
    return boost::json::serialize(*error);
  }
  return "";
}

bool UsesStreamFaults(const ScriptedReply& script) {
  return script.event_ids || script.priming || script.retry_ms.has_value() ||
         script.drop_after_events.has_value() || script.flood_events > 0 ||
         script.wait_for_response_to.has_value();
}

Answer DefaultAnswer(const FakeMcpServerOptions& options,
                     const Exchange& exchange) {
  if (exchange.http_method == "DELETE") return {200, std::nullopt};
  if (exchange.http_method != "POST") return {405, std::nullopt};
  if (const JsonRpcError* error = std::get_if<JsonRpcError>(&exchange.parsed)) {
    return {400, JsonRpcErrorJson(nullptr, error->code, error->message)};
  }
  const McpMessage& message = *exchange.message();
  if (message.kind != McpMessageKind::kRequest) return {202, std::nullopt};
  if (message.method == "initialize") {
    std::string version = options.force_version;
    if (version.empty()) {
      version =
          NegotiateMcpProtocolVersion(McpRequestedProtocolVersion(message));
    }
    return {200, JsonRpcResultJson(message.id, McpInitializeResult(
                                                   version, {"fake-mcp-server",
                                                             "0.0.0", ""}))};
  }
  const McpTool echo = McpEchoTool();
  return {200,
          JsonRpcReplyJson(message.id, AnswerMcpRequest(message, {&echo, 1}))};
}

// Applies `script` on top of the default answer.
Answer ScriptedAnswer(const Exchange& exchange, const ScriptedReply& script,
                      Answer answer) {
  answer.status = script.status;
  const McpMessage* message = exchange.message();
  const boost::json::value id =
      message != nullptr ? message->id : boost::json::value();
  if (script.error_json) {
    answer.message = JsonRpcRawErrorJson(id, *script.error_json);
  } else if (script.result_json) {
    answer.message = JsonRpcRawResultJson(id, *script.result_json);
  } else if (!IsSuccess(answer.status)) {
    answer.message.reset();
  }
  if (answer.status == 202 || answer.status == 204) answer.message.reset();
  return answer;
}

// A whole body as the script encodes it (ScriptedReply::content_encoding).
std::string EncodedBody(const ScriptedReply& script, std::string body) {
  if (script.content_encoding.empty()) return body;
  std::optional<std::string> encoded =
      EncodeContent(script.content_encoding, body);
  return encoded.has_value() ? *std::move(encoded) : body;
}

// Writes `chunks` in order, then aborts the connection once the last one
// reached the socket, so the peer sees everything up to the drop. With no
// chunks, an empty one (a zero-byte write) still waits for the head to go out.
void WriteThenAbort(std::shared_ptr<HttpResponseWriter> writer,
                    std::vector<std::string> chunks) {
  std::string last;
  if (!chunks.empty()) {
    last = std::move(chunks.back());
    chunks.pop_back();
  }
  for (std::string& chunk : chunks) writer->WriteChunk(std::move(chunk));
  writer->WriteChunk(std::move(last), [writer](bool) { writer->Abort(); });
}

void Respond(const FakeMcpServerOptions& options, FakeSseStreams& streams,
             const Exchange& exchange) {
  Answer answer = DefaultAnswer(options, exchange);
  const ScriptedReply script =
      exchange.script.has_value() ? *exchange.script : ScriptedReply{};
  if (exchange.script.has_value())
    answer = ScriptedAnswer(exchange, script, answer);

  // Unscripted, only answers to requests follow sse_by_default: 202s and
  // refusals stay plain.
  const bool sse = script.sse.value_or(
      UsesStreamFaults(script) ||
      (options.sse_by_default && exchange.IsRpcRequest() &&
       IsSuccess(answer.status) && answer.message.has_value()));
  const bool streamed = sse && !script.raw_body && !script.abort_after_head;
  if (!script.hold.empty() && !streamed) {
    Exchange released = exchange;
    released.script->hold.clear();
    streams.WhenReleased(script.hold, [&options, &streams, released] {
      Respond(options, streams, released);
    });
    return;
  }
  HttpHeaders headers;
  std::string content_type = script.content_type;
  if (content_type.empty() && (sse || answer.message || script.raw_body)) {
    content_type = sse ? "text/event-stream" : "application/json";
  }
  if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
  if (sse) headers.emplace_back("Cache-Control", "no-cache");
  if (answer.status == 405) headers.emplace_back("Allow", "POST, DELETE");
  const McpMessage* message = exchange.message();
  if (message != nullptr && message->method == "initialize" &&
      IsSuccess(answer.status) && !options.session_id.empty()) {
    headers.emplace_back(std::string(kMcpSessionIdHeader), options.session_id);
  }
  headers.insert(headers.end(), script.extra_headers.begin(),
                 script.extra_headers.end());
  if (!script.content_encoding.empty() && !script.abort_after_head) {
    headers.emplace_back("Content-Encoding", script.content_encoding);
  }

  HttpResponseWriter& writer = *exchange.writer;
  std::vector<std::string> events;
  if (sse) {
    for (const std::string& before : script.messages_before) {
      events.push_back(SseMessageEvent(before));
    }
  }
  if (script.abort_after_head) {
    writer.StartStream(answer.status, std::move(headers));
    WriteThenAbort(
        exchange.writer,
        script.raw_body ? std::vector<std::string>{*script.raw_body} : events);
    return;
  }
  if (script.batch) {
    std::vector<std::string> parts = script.messages_before;
    if (answer.message.has_value()) parts.push_back(*answer.message);
    const std::string array = absl::StrCat("[", absl::StrJoin(parts, ","), "]");
    writer.SendFull(answer.status, std::move(headers),
                    EncodedBody(script, sse ? SseMessageEvent(array) : array));
  } else if (script.raw_body) {
    writer.SendFull(answer.status, std::move(headers),
                    EncodedBody(script, *script.raw_body));
  } else if (sse) {
    SsePlan plan{
        .event_ids = script.event_ids,
        .priming = script.priming,
        .retry_ms = script.retry_ms,
        .messages_before = script.messages_before,
        .flood_events = script.flood_events,
        .flood_event_bytes = script.flood_event_bytes,
        .hold_gate = script.hold,
        .wait_for_response_to =
            script.wait_for_response_to.has_value()
                ? NormalizedIdJson(*script.wait_for_response_to)
                : "",
        .response = answer.message,
        .drop_after_events = script.drop_after_events,
        .drop_kind = script.drop_kind,
        .send_buffer_bytes = script.send_buffer_bytes,
        .content_encoding = script.content_encoding,
    };
    streams.Reply(exchange.writer, answer.status, std::move(headers),
                  std::move(plan));
  } else {
    writer.SendFull(answer.status, std::move(headers),
                    EncodedBody(script, answer.message.value_or("")));
  }
}

}  // namespace

std::string RecordedRequest::Header(absl::string_view name) const {
  return HeaderOrEmpty(headers, name);
}

absl::StatusOr<std::unique_ptr<FakeMcpServer>> FakeMcpServer::Start(
    FakeMcpServerOptions options) {
  // WrapUnique: the constructor is private, so make_unique cannot reach it.
  std::unique_ptr<FakeMcpServer> fake =
      absl::WrapUnique(new FakeMcpServer(std::move(options)));
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      fake->ioc_, "127.0.0.1", 0,
      [raw = fake.get()](HttpServerRequest request,
                         std::shared_ptr<HttpResponseWriter> writer) {
        raw->Handle(std::move(request), std::move(writer));
      });
  if (!server.ok()) return server.status();
  fake->server_ = *std::move(server);
  fake->thread_ = std::thread([raw = fake.get()] {
    raw->ioc_.run();
    raw->ran_out_of_work_.Notify();
  });
  return fake;
}

FakeMcpServer::FakeMcpServer(FakeMcpServerOptions options)
    : options_(std::move(options)),
      work_(boost::asio::make_work_guard(ioc_)),
      streams_(ioc_, options_.standalone_get) {}

FakeMcpServer::~FakeMcpServer() {
  if (server_ != nullptr) server_->Stop();
  if (!thread_.joinable()) return;  // Start() failed before running anything
  // Replies still waiting on a delay are dropped; with them gone the io_context
  // runs out of work, so closing connections get to finish cleanly.
  boost::asio::post(ioc_, [this] {
    streams_.Shutdown();
    absl::MutexLock lock(&mu_);
    for (const std::weak_ptr<boost::asio::steady_timer>& weak : delays_) {
      if (auto timer = weak.lock()) timer->cancel();
    }
  });
  work_.reset();
  if (!ran_out_of_work_.WaitForNotificationWithTimeout(absl::Seconds(5))) {
    ioc_.stop();
  }
  thread_.join();
}

uint16_t FakeMcpServer::port() const { return server_->port(); }

std::string FakeMcpServer::url() const {
  return absl::StrCat("http://127.0.0.1:", port(), "/mcp");
}

void FakeMcpServer::ScriptReply(absl::string_view rpc_method,
                                ScriptedReply reply) {
  absl::MutexLock lock(&mu_);
  scripts_[rpc_method].push_back(std::move(reply));
}

std::vector<RecordedRequest> FakeMcpServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

testing::AssertionResult FakeMcpServer::WaitForRequestCount(
    size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return requests_.size() >= n;
  };
  if (mu_.AwaitWithTimeout(absl::Condition(&enough), timeout)) {
    return testing::AssertionSuccess();
  }
  return testing::AssertionFailure()
         << "waited " << timeout << " for " << n << " requests; got "
         << DescribeRequestsLocked();
}

testing::AssertionResult FakeMcpServer::WaitForRpc(
    absl::string_view rpc_method_or_http_method, RecordedRequest* out,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  size_t found = 0;
  auto match = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (size_t i = 0; i < requests_.size(); ++i) {
      const RecordedRequest& request = requests_[i];
      if (!claimed_[i] && (request.rpc_method == rpc_method_or_http_method ||
                           request.http_method == rpc_method_or_http_method)) {
        found = i;
        return true;
      }
    }
    return false;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&match), timeout)) {
    return testing::AssertionFailure()
           << "waited " << timeout << " for " << rpc_method_or_http_method
           << "; got " << DescribeRequestsLocked();
  }
  claimed_[found] = true;
  if (out != nullptr) *out = requests_[found];
  return testing::AssertionSuccess();
}

testing::AssertionResult FakeMcpServer::WaitForResponseTo(
    absl::string_view id_json, RecordedRequest* out, absl::Duration timeout) {
  const std::string id = NormalizedIdJson(id_json);
  absl::MutexLock lock(&mu_);
  size_t found = 0;
  auto match = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (size_t i = 0; i < requests_.size(); ++i) {
      if (!claimed_[i] && requests_[i].is_rpc_response &&
          requests_[i].rpc_id == id) {
        found = i;
        return true;
      }
    }
    return false;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&match), timeout)) {
    return testing::AssertionFailure()
           << "waited " << timeout << " for the response to " << id << "; got "
           << DescribeRequestsLocked();
  }
  claimed_[found] = true;
  if (out != nullptr) *out = requests_[found];
  return testing::AssertionSuccess();
}

void FakeMcpServer::PushServerMessage(std::string json) {
  streams_.Push(std::move(json));
}

void FakeMcpServer::Release(absl::string_view gate) { streams_.Release(gate); }

void FakeMcpServer::SetResumeBehavior(ResumeBehavior behavior) {
  absl::MutexLock lock(&mu_);
  resume_ = behavior;
}

testing::AssertionResult FakeMcpServer::WaitForGetStreamOpen(
    absl::Duration timeout) {
  return streams_.WaitForGetStreamOpen(timeout);
}

testing::AssertionResult FakeMcpServer::WaitForClientDisconnect(
    absl::Duration timeout) {
  return streams_.WaitForClientDisconnect(timeout);
}

size_t FakeMcpServer::client_disconnects() const {
  return streams_.client_disconnects();
}

testing::AssertionResult FakeMcpServer::WaitForFloodBlocked(
    absl::Duration timeout) {
  return streams_.WaitForFloodBlocked(timeout);
}

FloodStats FakeMcpServer::flood_stats() const { return streams_.flood_stats(); }

std::string FakeMcpServer::StrictHeaderProblemLocked(
    const RecordedRequest& record) const {
  if (!options_.strict_headers || negotiated_version_.empty() ||
      record.rpc_method == "initialize") {
    return "";
  }
  if (!options_.session_id.empty() &&
      record.Header(kMcpSessionIdHeader) != options_.session_id) {
    return "missing or unknown Mcp-Session-Id\n";
  }
  if (record.Header("MCP-Protocol-Version") != negotiated_version_) {
    return absl::StrCat("MCP-Protocol-Version must be ", negotiated_version_,
                        "\n");
  }
  return "";
}

std::string FakeMcpServer::DescribeRequestsLocked() const {
  if (requests_.empty()) return "no requests";
  return absl::StrJoin(requests_, ", ",
                       [](std::string* out, const RecordedRequest& request) {
                         absl::StrAppend(out, request.http_method,
                                         request.rpc_method.empty() ? "" : " ",
                                         request.rpc_method);
                       });
}

void FakeMcpServer::Handle(HttpServerRequest request,
                           std::shared_ptr<HttpResponseWriter> writer) {
  Exchange exchange;
  exchange.http_method = request.method;
  exchange.writer = std::move(writer);
  RecordedRequest record;
  record.http_method = request.method;
  record.target = request.target;
  record.body = std::move(request.body);
  record.headers = std::move(request.headers);
  record.received_at = absl::Now();
  record.connection_id = request.connection_id;
  std::string response_payload;
  if (exchange.http_method == "POST") {
    exchange.parsed = ParseMcpMessage(record.body);
    if (const McpMessage* message = exchange.message()) {
      record.rpc_method = message->method;
      if (!message->id.is_null()) {
        record.rpc_id = boost::json::serialize(message->id);
      }
      record.is_rpc_response = message->kind == McpMessageKind::kResponse;
      if (record.is_rpc_response) {
        response_payload = ResponsePayload(record.body);
      }
    }
  }
  const std::string last_event_id = record.Header("Last-Event-ID");
  const std::string key =
      exchange.http_method == "POST" ? record.rpc_method : exchange.http_method;
  const std::string id_json = record.rpc_id;
  const bool is_rpc_response = record.is_rpc_response;
  std::string refusal;
  ResumeBehavior resume;
  {
    absl::MutexLock lock(&mu_);
    refusal = StrictHeaderProblemLocked(record);
    if (refusal.empty()) {
      auto it = scripts_.find(key);
      if (it != scripts_.end() && !it->second.empty()) {
        exchange.script = std::move(it->second.front());
        it->second.pop_front();
      }
    }
    if (refusal.empty() && record.rpc_method == "initialize") {
      negotiated_version_ = options_.force_version;
      if (negotiated_version_.empty()) {
        negotiated_version_ = NegotiateMcpProtocolVersion(
            McpRequestedProtocolVersion(*exchange.message()));
      }
    }
    resume = resume_;
    requests_.push_back(std::move(record));
    claimed_.push_back(false);
  }
  if (!refusal.empty()) {
    exchange.writer->SendFull(400, {{"Content-Type", "text/plain"}}, refusal);
    return;
  }
  if (is_rpc_response) streams_.OnClientResponse(id_json, response_payload);
  if (exchange.http_method == "GET") {
    if (!last_event_id.empty()) {
      if (exchange.script.has_value()) {
        const ScriptedReply& script = *exchange.script;
        resume = {.status = script.status,
                  .empty = script.resume_empty,
                  .drop_after_events = script.drop_after_events,
                  .drop_kind = script.drop_kind};
      }
      streams_.Resume(exchange.writer, last_event_id, resume);
      return;
    }
    if (!exchange.script.has_value() && options_.standalone_get.enabled) {
      streams_.OpenStandalone(exchange.writer);
      return;
    }
  }

  const absl::Duration delay = exchange.script.has_value()
                                   ? exchange.script->delay
                                   : absl::ZeroDuration();
  if (delay <= absl::ZeroDuration()) {
    Respond(options_, streams_, exchange);
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(
      ioc_, absl::ToChronoNanoseconds(delay));
  {
    absl::MutexLock lock(&mu_);
    std::erase_if(delays_, [](const auto& weak) { return weak.expired(); });
    delays_.push_back(timer);
  }
  timer->async_wait([this, timer, exchange = std::move(exchange)](
                        boost::system::error_code ec) {
    if (!ec) Respond(options_, streams_, exchange);
  });
}

}  // namespace shadowcat
