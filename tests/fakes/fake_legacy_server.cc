#include "tests/fakes/fake_legacy_server.h"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/buffer.hpp"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "core/jsonrpc/json_path.h"
#include "core/jsonrpc/jsonrpc_message.h"

namespace shadowcat {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// One open SSE stream: what is still to be written on it, and a timer that is
// cancelled to wake its writer.
struct SseConnection {
  explicit SseConnection(const asio::any_io_executor& executor)
      : wake(executor, asio::steady_timer::time_point::max()) {}
  std::deque<std::string> outbox;
  asio::steady_timer wake;
  bool dropped = false;
};

std::string SseFrame(absl::string_view event, absl::string_view data) {
  return absl::StrCat("event: ", event, "\ndata: ", data, "\n\n");
}

}  // namespace

struct FakeLegacyServer::State {
  FakeLegacyServerOptions options;  // constant once serving
  // io thread only.
  int next_session = 1;
  absl::flat_hash_map<std::string, std::shared_ptr<SseConnection>> sessions;

  mutable absl::Mutex mu;
  int streams_opened ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> requests ABSL_GUARDED_BY(mu);
  std::vector<std::string> posted_methods ABSL_GUARDED_BY(mu);
  std::vector<std::string> posted_bodies ABSL_GUARDED_BY(mu);

  void Send(SseConnection& connection, std::string frame) {
    connection.outbox.push_back(std::move(frame));
    connection.wake.cancel();
  }

  // The JSON-RPC answers to one POSTed message, as SSE frames.
  void Answer(SseConnection& connection, const JsonRpcMessage& message) {
    if (message.kind != JsonRpcKind::kRequest || message.method == "hold") {
      return;
    }
    const std::string id(message.id_raw);
    std::string response;
    if (message.method == "initialize") {
      response = BuildResultResponse(
          id, absl::StrCat(R"({"protocolVersion":")", options.protocol_version,
                           R"(","capabilities":{"tools":{}},)",
                           R"("serverInfo":{"name":"fake-legacy",)",
                           R"("version":"1.0.0"}})"));
    } else if (message.method == "tools/list") {
      response = BuildResultResponse(
          id, R"({"tools":[{"name":"echo","inputSchema":{"type":"object"}}]})");
    } else if (message.method == "tools/call") {
      if (std::optional<absl::string_view> token =
              FindMemberPath(message.params_raw, {"_meta", "progressToken"})) {
        Send(connection,
             SseFrame("message",
                      BuildNotification(
                          "notifications/progress",
                          absl::StrCat(R"({"progressToken":)", *token,
                                       R"(,"progress":1,"total":1})"))));
      }
      std::optional<absl::string_view> text =
          FindMemberPath(message.params_raw, {"arguments", "text"});
      response = BuildResultResponse(
          id, absl::StrCat(R"({"content":[{"type":"text","text":)",
                           text.value_or("\"\""), "}]}"));
    } else {
      response = BuildErrorResponse(id, -32601, "Method not found", "");
    }
    Send(connection, SseFrame("message", response));
  }
};

namespace {

using State = FakeLegacyServer::State;

asio::awaitable<void> ServeSse(std::shared_ptr<State> st, tcp::socket& socket) {
  auto connection = std::make_shared<SseConnection>(socket.get_executor());
  const std::string session = absl::StrCat(st->next_session++);
  st->sessions[session] = connection;
  {
    absl::MutexLock lock(&st->mu);
    ++st->streams_opened;
  }
  // No length and no chunking: the body runs until the connection closes.
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n\r\n";
  const std::string endpoint =
      st->options.endpoint.empty()
          ? absl::StrCat("/messages?session_id=", session)
          : st->options.endpoint;
  connection->outbox.push_back(head + SseFrame("endpoint", endpoint));
  while (true) {
    while (!connection->outbox.empty()) {
      const std::string frame = std::move(connection->outbox.front());
      connection->outbox.pop_front();
      auto [ec, n] =
          co_await asio::async_write(socket, asio::buffer(frame), kTuple);
      if (ec) {
        st->sessions.erase(session);
        co_return;
      }
    }
    if (connection->dropped) break;
    (void)co_await connection->wake.async_wait(kTuple);
  }
  st->sessions.erase(session);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> ServeConnection(std::shared_ptr<State> st,
                                      tcp::socket socket) {
  beast::flat_buffer buffer;
  while (true) {
    http::request<http::string_body> request;
    auto [rec, rn] = co_await http::async_read(socket, buffer, request, kTuple);
    if (rec) co_return;
    const std::string target(request.target());
    const std::string path = target.substr(0, target.find('?'));
    {
      absl::MutexLock lock(&st->mu);
      st->requests.push_back(
          absl::StrCat(std::string(request.method_string()), " ", target));
    }
    if (path == "/sse" && request.method() == http::verb::get) {
      co_await ServeSse(st, socket);
      co_return;
    }
    http::response<http::string_body> response(http::status::not_found, 11);
    response.set(http::field::content_type, "text/plain");
    if (path == "/sse" && request.method() == http::verb::post) {
      response.result(st->options.streamable_post_status);
      response.body() = "this server speaks the HTTP+SSE transport";
      if (st->options.streamable_post_status == 401) {
        response.set(http::field::www_authenticate, "Bearer");
      }
    } else if (path == "/messages" && request.method() == http::verb::post) {
      const size_t at = target.find("session_id=");
      auto session =
          at == std::string::npos
              ? st->sessions.end()
              : st->sessions.find(target.substr(at + strlen("session_id=")));
      absl::StatusOr<JsonRpcMessage> message =
          ParseJsonRpcMessage(request.body());
      if (session == st->sessions.end()) {
        response.body() = "Could not find session";
      } else if (!message.ok()) {
        response.result(http::status::bad_request);
        response.body() = "Invalid message";
      } else {
        {
          absl::MutexLock lock(&st->mu);
          st->posted_methods.push_back(message->method);
          st->posted_bodies.push_back(request.body());
        }
        response.result(http::status::accepted);
        response.body() = "Accepted";
        st->Answer(*session->second, *message);
      }
    }
    response.prepare_payload();
    response.keep_alive(request.keep_alive());
    auto [wec, wn] = co_await http::async_write(socket, response, kTuple);
    if (wec || !request.keep_alive()) co_return;
  }
}

asio::awaitable<void> Accept(std::shared_ptr<State> st,
                             tcp::acceptor& acceptor) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(),
                   ServeConnection(st, std::move(socket)), asio::detached);
  }
}

}  // namespace

FakeLegacyServer::FakeLegacyServer(FakeLegacyServerOptions options)
    : acceptor_(ioc_), state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(endpoint.protocol());
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(ioc_, Accept(state_, acceptor_), asio::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

FakeLegacyServer::~FakeLegacyServer() {
  ioc_.stop();
  thread_.join();
}

std::string FakeLegacyServer::url() const {
  return absl::StrCat("http://127.0.0.1:", port_, "/sse");
}

void FakeLegacyServer::DropStreams() {
  absl::Notification done;
  asio::post(ioc_, [st = state_, &done] {
    for (auto& [session, connection] : st->sessions) {
      connection->dropped = true;
      connection->wake.cancel();
    }
    done.Notify();
  });
  done.WaitForNotification();
}

int FakeLegacyServer::streams_opened() const {
  absl::MutexLock lock(&state_->mu);
  return state_->streams_opened;
}

std::vector<std::string> FakeLegacyServer::requests() const {
  absl::MutexLock lock(&state_->mu);
  return state_->requests;
}

std::vector<std::string> FakeLegacyServer::posted_methods() const {
  absl::MutexLock lock(&state_->mu);
  return state_->posted_methods;
}

std::vector<std::string> FakeLegacyServer::posted_bodies() const {
  absl::MutexLock lock(&state_->mu);
  return state_->posted_bodies;
}

}  // namespace shadowcat
