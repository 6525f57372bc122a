#include "server/demo_upstream.h"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <random>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/bind_executor.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/json/value.hpp"
#include "core/common/log.h"
#include "server/mcp_wire.h"

namespace shadowcat {
namespace {

constexpr char kServerName[] = "shadowcat-demo";
constexpr char kServerVersion[] = "0.1.0";
constexpr char kInstructions[] =
    "Demo MCP server built into shadowcat. Tools: echo (returns text), add "
    "(sums two "
    "numbers), slow (streams progress notifications, then answers).";

// Bounds on the `slow` tool, so one call cannot pin a connection for long.
constexpr int64_t kMaxSlowSteps = 100;
constexpr int64_t kMaxSlowDelayMs = 10'000;

// Session ids are never logged; 128 random bits, hex-encoded (visible ASCII as
// required).
std::string NewSessionId() {
  std::random_device random;
  return absl::StrFormat("%08x%08x%08x%08x", random(), random(), random(),
                         random());
}

// Remembers session ids in creation order; the oldest goes first when full.
class SessionTable {
 public:
  explicit SessionTable(size_t capacity)
      : capacity_(capacity == 0 ? 1 : capacity) {}

  std::string Create() ABSL_LOCKS_EXCLUDED(mu_) {
    std::string id = NewSessionId();
    absl::MutexLock lock(&mu_);
    if (index_.size() >= capacity_) {
      index_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(id);
    index_[id] = std::prev(order_.end());
    return id;
  }

  bool Contains(const std::string& id) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return index_.contains(id);
  }

  void Erase(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(id);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::list<std::string> order_ ABSL_GUARDED_BY(mu_);  // oldest first
  absl::flat_hash_map<std::string, std::list<std::string>::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

// An argument of `slow` that must be an integer in [0, max]; `fallback` when
// absent.
absl::StatusOr<int64_t> BoundedIntArgument(const boost::json::object& arguments,
                                           absl::string_view name,
                                           int64_t fallback, int64_t max) {
  const boost::json::value* value =
      arguments.if_contains(boost::json::string_view(name.data(), name.size()));
  if (value == nullptr) return fallback;
  boost::system::error_code ec;
  int64_t number = value->to_number<int64_t>(ec);
  if (ec || number < 0 || number > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("slow needs ", name, " to be an integer from 0 to ", max));
  }
  return number;
}

struct SlowArguments {
  int64_t steps = 3;
  int64_t delay_ms = 200;
};

absl::StatusOr<SlowArguments> ParseSlowArguments(const McpMessage& request) {
  absl::StatusOr<boost::json::object> arguments = McpToolCallArguments(request);
  if (!arguments.ok()) return arguments.status();
  SlowArguments parsed;
  absl::StatusOr<int64_t> steps =
      BoundedIntArgument(*arguments, "steps", parsed.steps, kMaxSlowSteps);
  if (!steps.ok()) return steps.status();
  absl::StatusOr<int64_t> delay = BoundedIntArgument(
      *arguments, "delay_ms", parsed.delay_ms, kMaxSlowDelayMs);
  if (!delay.ok()) return delay.status();
  parsed.steps = *steps;
  parsed.delay_ms = *delay;
  return parsed;
}

// Shortest text that reads back as the same number ("5", "3.5",
// "0.30000000000000004").
std::string FormatNumber(double number) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), number);
  if (ec != std::errc()) return absl::StrCat(number);
  return std::string(buffer, end);
}

absl::StatusOr<boost::json::object> CallAdd(
    const boost::json::object& arguments) {
  const boost::json::value* a = arguments.if_contains("a");
  const boost::json::value* b = arguments.if_contains("b");
  if (a == nullptr || b == nullptr || !a->is_number() || !b->is_number()) {
    return absl::InvalidArgumentError("add needs numbers \"a\" and \"b\"");
  }
  // Integers stay exact where they fit; anything else is summed as a double.
  int64_t sum = 0;
  if (a->is_int64() && b->is_int64() &&
      !__builtin_add_overflow(a->get_int64(), b->get_int64(), &sum)) {
    return McpTextToolResult(absl::StrCat(sum));
  }
  boost::system::error_code ec;
  double total = a->to_number<double>(ec) + b->to_number<double>(ec);
  return McpTextToolResult(FormatNumber(total));
}

boost::json::object IntegerProperty(int64_t fallback, int64_t max) {
  return {{"type", "integer"},
          {"minimum", 0},
          {"maximum", max},
          {"default", fallback}};
}

std::vector<McpTool> DemoTools() {
  std::vector<McpTool> tools;
  tools.push_back(McpEchoTool());

  McpTool add;
  add.definition = {
      {"name", "add"},
      {"description", "Adds two numbers and returns the sum as text."},
      {"inputSchema",
       {{"type", "object"},
        {"properties",
         {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}},
        {"required", boost::json::array{"a", "b"}}}},
  };
  add.call = CallAdd;
  tools.push_back(std::move(add));

  // Answered as a stream by the service itself, so it has no `call`.
  McpTool slow;
  const SlowArguments defaults;
  slow.definition = {
      {"name", "slow"},
      {"description",
       "Waits delay_ms milliseconds `steps` times, sending a progress "
       "notification after "
       "each step when the request has a progress token, then answers."},
      {"inputSchema",
       {{"type", "object"},
        {"properties",
         {{"steps", IntegerProperty(defaults.steps, kMaxSlowSteps)},
          {"delay_ms", IntegerProperty(defaults.delay_ms, kMaxSlowDelayMs)}}}}},
  };
  tools.push_back(std::move(slow));
  return tools;
}

// One running `slow` call: an SSE stream fed by a timer. All its state lives on
// its strand.
class SlowCall : public std::enable_shared_from_this<SlowCall> {
 public:
  SlowCall(boost::asio::io_context& ioc,
           std::shared_ptr<HttpResponseWriter> writer,
           const McpMessage& request, SlowArguments arguments)
      : strand_(boost::asio::make_strand(ioc)),
        timer_(strand_),
        writer_(std::move(writer)),
        id_(request.id),
        progress_token_(request.progress_token),
        arguments_(arguments) {}

  void Start() {
    boost::asio::post(strand_, [self = shared_from_this()] {
      self->writer_->StartStream(200, SseResponseHeaders());
      self->Next();
    });
  }

  // Callable from any thread; the stream is left to the server's own shutdown.
  void Cancel() {
    boost::asio::post(strand_, [self = shared_from_this()] {
      self->cancelled_ = true;
      self->timer_.cancel();
    });
  }

 private:
  void Next() {
    if (cancelled_ || writer_->closed()) return;
    if (steps_done_ == arguments_.steps) {
      writer_->WriteChunk(SseMessageEvent(JsonRpcResultJson(
          id_, McpTextToolResult(absl::StrCat("slow finished ",
                                              arguments_.steps, " steps")))));
      writer_->EndStream();
      return;
    }
    timer_.expires_after(std::chrono::milliseconds(arguments_.delay_ms));
    timer_.async_wait(boost::asio::bind_executor(
        strand_, [self = shared_from_this()](boost::system::error_code ec) {
          if (ec || self->cancelled_) return;
          self->OnStepDone();
        }));
  }

  void OnStepDone() {
    ++steps_done_;
    if (!progress_token_.is_null()) {
      writer_->WriteChunk(SseMessageEvent(JsonRpcNotificationJson(
          "notifications/progress",
          {{"progressToken", progress_token_},
           {"progress", steps_done_},
           {"total", arguments_.steps},
           {"message",
            absl::StrCat("step ", steps_done_, " of ", arguments_.steps)}})));
    }
    Next();
  }

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  const std::shared_ptr<HttpResponseWriter> writer_;
  const boost::json::value id_;
  const boost::json::value progress_token_;
  const SlowArguments arguments_;
  int64_t steps_done_ = 0;
  bool cancelled_ = false;
};

std::string HostForUrl(const std::string& address) {
  if (address.empty() || address == "0.0.0.0") return "127.0.0.1";
  if (address == "::") return "[::1]";
  if (address.find(':') != std::string::npos)
    return absl::StrCat("[", address, "]");
  return address;
}

}  // namespace

class DemoUpstream::Service {
 public:
  Service(boost::asio::io_context& ioc, const DemoUpstreamOptions& options)
      : ioc_(ioc), sessions_(options.max_sessions), tools_(DemoTools()) {}

  void Handle(const HttpServerRequest& request,
              std::shared_ptr<HttpResponseWriter> writer) {
    if (RequestPath(request.target) != "/mcp") {
      SendHttpReply(*writer, {404, {}, ""});
    } else if (request.method == "POST") {
      HandlePost(request, std::move(writer));
    } else if (request.method == "DELETE") {
      HandleDelete(request, *writer);
    } else {
      SendHttpReply(*writer, MethodNotAllowedHttpReply());
    }
  }

  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::weak_ptr<SlowCall>> calls;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      calls.swap(slow_calls_);
    }
    for (const std::weak_ptr<SlowCall>& weak : calls) {
      if (std::shared_ptr<SlowCall> call = weak.lock()) call->Cancel();
    }
  }

 private:
  void HandlePost(const HttpServerRequest& request,
                  std::shared_ptr<HttpResponseWriter> writer) {
    std::variant<McpMessage, JsonRpcError> parsed =
        ParseMcpMessage(request.body);
    if (const JsonRpcError* error = std::get_if<JsonRpcError>(&parsed)) {
      SendHttpReply(*writer,
                    JsonRpcErrorHttpReply(400, error->code, error->message));
      return;
    }
    const McpMessage& message = std::get<McpMessage>(parsed);
    if (message.kind == McpMessageKind::kRequest &&
        message.method == "initialize") {
      SendHttpReply(*writer, Initialize(message));
      return;
    }
    if (std::optional<HttpReply> refusal = CheckSession(request)) {
      SendHttpReply(*writer, *std::move(refusal));
      return;
    }
    if (message.kind != McpMessageKind::kRequest) {
      SendHttpReply(*writer, AcceptedHttpReply());
      return;
    }
    if (message.method == "tools/call" && McpToolCallName(message) == "slow") {
      StartSlow(message, std::move(writer));
      return;
    }
    SendHttpReply(
        *writer,
        JsonHttpReply(200, JsonRpcReplyJson(
                               message.id, AnswerMcpRequest(message, tools_))));
  }

  void HandleDelete(const HttpServerRequest& request,
                    HttpResponseWriter& writer) {
    if (std::optional<HttpReply> refusal = CheckSession(request)) {
      SendHttpReply(writer, *std::move(refusal));
      return;
    }
    sessions_.Erase(request.Header(kMcpSessionIdHeader));
    SendHttpReply(writer, {200, {}, ""});
  }

  HttpReply Initialize(const McpMessage& request) {
    std::string version =
        NegotiateMcpProtocolVersion(McpRequestedProtocolVersion(request));
    McpServerInfo info{kServerName, kServerVersion, kInstructions};
    HttpReply reply = JsonHttpReply(
        200, JsonRpcResultJson(request.id, McpInitializeResult(version, info)));
    reply.headers.emplace_back(kMcpSessionIdHeader, sessions_.Create());
    return reply;
  }

  // The refusal for a request outside a live session, or nullopt when it may
  // proceed.
  std::optional<HttpReply> CheckSession(
      const HttpServerRequest& request) const {
    std::string session_id = request.Header(kMcpSessionIdHeader);
    if (session_id.empty()) {
      return JsonRpcErrorHttpReply(400, kJsonRpcInvalidRequest,
                                   "missing Mcp-Session-Id header");
    }
    if (!sessions_.Contains(session_id)) {
      return JsonRpcErrorHttpReply(404, kMcpSessionNotFound,
                                   "session not found");
    }
    std::string version = request.Header(kMcpProtocolVersionHeader);
    if (!version.empty() && !IsSupportedMcpProtocolVersion(version)) {
      return JsonRpcErrorHttpReply(400, kJsonRpcInvalidRequest,
                                   "unsupported MCP-Protocol-Version");
    }
    return std::nullopt;
  }

  void StartSlow(const McpMessage& request,
                 std::shared_ptr<HttpResponseWriter> writer)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::StatusOr<SlowArguments> arguments = ParseSlowArguments(request);
    if (!arguments.ok()) {
      SendHttpReply(
          *writer,
          JsonHttpReply(200, JsonRpcReplyJson(request.id, arguments.status())));
      return;
    }
    auto call = std::make_shared<SlowCall>(ioc_, writer, request, *arguments);
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) {
        writer->Abort();
        return;
      }
      // Forget finished calls first, so the list only grows with calls still
      // running.
      std::erase_if(slow_calls_, [](const std::weak_ptr<SlowCall>& weak) {
        return weak.expired();
      });
      slow_calls_.push_back(call);
    }
    call->Start();
  }

  boost::asio::io_context& ioc_;
  SessionTable sessions_;
  const std::vector<McpTool> tools_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<SlowCall>> slow_calls_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<DemoUpstream>> DemoUpstream::Start(
    boost::asio::io_context& ioc, const std::string& address, uint16_t port,
    DemoUpstreamOptions options) {
  auto service = std::make_shared<Service>(ioc, options);
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(ioc, address, port,
                        [service](HttpServerRequest request,
                                  std::shared_ptr<HttpResponseWriter> writer) {
                          service->Handle(request, std::move(writer));
                        });
  if (!server.ok()) return server.status();
  // WrapUnique: the constructor is private, so make_unique cannot reach it.
  std::unique_ptr<DemoUpstream> demo = absl::WrapUnique(new DemoUpstream(
      std::move(service), *std::move(server), HostForUrl(address)));
  SC_LOG(kInfo, "demo MCP upstream listening on ", demo->url());
  return demo;
}

DemoUpstream::DemoUpstream(std::shared_ptr<Service> service,
                           std::unique_ptr<HttpServer> server, std::string host)
    : service_(std::move(service)),
      server_(std::move(server)),
      host_(std::move(host)) {}

DemoUpstream::~DemoUpstream() { Stop(); }

uint16_t DemoUpstream::port() const { return server_->port(); }

std::string DemoUpstream::url() const {
  return absl::StrCat("http://", host_, ":", port(), "/mcp");
}

void DemoUpstream::Stop() {
  server_->Stop();
  service_->Stop();
}

}  // namespace shadowcat
