#include "tests/bench/hold_upstream.h"

#include <atomic>
#include <string>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/mcp_wire.h"

namespace shadowcat {

// The writers of the streams held open, dropped when their client goes away.
class HoldUpstream::Streams
    : public std::enable_shared_from_this<HoldUpstream::Streams> {
 public:
  void Handle(const HttpServerRequest& request,
              std::shared_ptr<HttpResponseWriter> writer) {
    if (request.method == "GET") return Hold(std::move(writer));
    if (request.method == "DELETE")
      return SendHttpReply(*writer, {200, {}, ""});
    if (request.method != "POST") {
      return SendHttpReply(*writer, MethodNotAllowedHttpReply());
    }
    std::variant<McpMessage, JsonRpcError> parsed =
        ParseMcpMessage(request.body);
    if (const JsonRpcError* error = std::get_if<JsonRpcError>(&parsed)) {
      return SendHttpReply(
          *writer, JsonRpcErrorHttpReply(400, error->code, error->message));
    }
    const McpMessage& message = std::get<McpMessage>(parsed);
    if (message.kind != McpMessageKind::kRequest) {
      return SendHttpReply(*writer, AcceptedHttpReply());
    }
    if (message.method == "server/discover") {
      // A session-era server: Shadowcat's era probe (VN-11) falls back to
      // initialize. Held, the probe would stall every OpenSession.
      return SendHttpReply(
          *writer, JsonHttpReply(200, JsonRpcErrorJson(message.id, -32601,
                                                       "Method not found")));
    }
    if (message.method != "initialize") return Hold(std::move(writer));
    const std::string version =
        NegotiateMcpProtocolVersion(McpRequestedProtocolVersion(message));
    HttpReply reply = JsonHttpReply(
        200, JsonRpcResultJson(message.id,
                               McpInitializeResult(version, {"hold", "1"})));
    reply.headers.emplace_back("Mcp-Session-Id",
                               absl::StrCat("hold-", next_session_++));
    SendHttpReply(*writer, std::move(reply));
  }

 private:
  void Hold(std::shared_ptr<HttpResponseWriter> writer) {
    writer->StartStream(200, SseResponseHeaders());
    const uint64_t key = next_stream_++;
    {
      absl::MutexLock lock(&mu_);
      held_.emplace(key, writer);
    }
    writer->NotifyOnClose([weak = weak_from_this(), key] {
      if (auto self = weak.lock()) {
        absl::MutexLock lock(&self->mu_);
        self->held_.erase(key);
      }
    });
  }

  std::atomic<uint64_t> next_session_{1};
  std::atomic<uint64_t> next_stream_{1};
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<HttpResponseWriter>> held_
      ABSL_GUARDED_BY(mu_);
};

HoldUpstream::HoldUpstream(std::shared_ptr<Streams> streams,
                           std::unique_ptr<HttpServer> server)
    : streams_(std::move(streams)), server_(std::move(server)) {}

absl::StatusOr<std::unique_ptr<HoldUpstream>> HoldUpstream::Start(
    boost::asio::io_context& ioc) {
  auto streams = std::make_shared<Streams>();
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(ioc, "127.0.0.1", 0,
                        [streams](HttpServerRequest request,
                                  std::shared_ptr<HttpResponseWriter> writer) {
                          streams->Handle(request, std::move(writer));
                        });
  if (!server.ok()) return server.status();
  return std::unique_ptr<HoldUpstream>(
      new HoldUpstream(std::move(streams), *std::move(server)));
}

}  // namespace shadowcat
