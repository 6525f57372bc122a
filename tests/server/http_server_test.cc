#include "server/http_server.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

constexpr absl::Duration kWait = absl::Seconds(10);

// Runs the server's io_context on one thread. Declared before the server so
// that the server is stopped first and the thread then drains the remaining
// work and exits.
class IoThread {
 public:
  IoThread()
      : guard_(asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
  ~IoThread() {
    guard_.reset();
    thread_.join();
  }
  asio::io_context& ioc() { return ioc_; }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

std::unique_ptr<HttpServer> MustStart(asio::io_context& ioc,
                                      HttpHandler handler,
                                      HttpServerOptions options = {}) {
  auto server =
      HttpServer::Start(ioc, "127.0.0.1", 0, std::move(handler), options);
  if (!server.ok()) {
    ADD_FAILURE() << server.status();
    return nullptr;
  }
  return *std::move(server);
}

// Hands the writer of the latest request from the server's strand to the test
// thread.
class WriterSlot {
 public:
  void Put(HttpServerRequest request,
           std::shared_ptr<HttpResponseWriter> writer) {
    absl::MutexLock lock(&mu_);
    request_ = std::move(request);
    writer_ = std::move(writer);
  }
  std::shared_ptr<HttpResponseWriter> Wait() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](std::shared_ptr<HttpResponseWriter>* w) {
                               return *w != nullptr;
                             },
                             &writer_),
                         kWait);
    return writer_;
  }

 private:
  absl::Mutex mu_;
  HttpServerRequest request_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<HttpResponseWriter> writer_ ABSL_GUARDED_BY(mu_);
};

// A plain blocking client, so the server is tested against nothing of ours.
class BlockingClient {
 public:
  explicit BlockingClient(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                    connect_ec_);
  }
  bool connected() const { return !connect_ec_; }
  tcp::socket& socket() { return socket_; }
  beast::flat_buffer& buffer() { return buffer_; }

  ErrorCode Send(
      http::verb method, const std::string& target, std::string body = "",
      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
    ErrorCode ec;
    http::write(socket_, req, ec);
    return ec;
  }

  http::response<http::string_body> Read(ErrorCode* ec) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    http::read(socket_, buffer_, parser, *ec);
    return parser.release();
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  ErrorCode connect_ec_;
};

// Reads a chunked response incrementally, collecting the decoded chunk
// payloads.
class ChunkReader {
 public:
  explicit ChunkReader(BlockingClient* client) : client_(client) {
    parser_.body_limit(boost::none);
    // Beast keeps a reference to the callback, so it lives in a member.
    on_chunk_ = [this](uint64_t, beast::string_view body,
                       ErrorCode& ec) -> size_t {
      received_.append(body.data(), body.size());
      ec = {};
      return body.size();
    };
    parser_.on_chunk_body(on_chunk_);
  }
  ErrorCode ReadHeader() {
    ErrorCode ec;
    http::read_header(client_->socket(), client_->buffer(), parser_, ec);
    return ec;
  }
  // Reads until at least `bytes` payload bytes arrived in total.
  ErrorCode ReadUntil(size_t bytes) {
    ErrorCode ec;
    while (!ec && received_.size() < bytes && !parser_.is_done()) {
      http::read_some(client_->socket(), client_->buffer(), parser_, ec);
    }
    return ec;
  }
  ErrorCode ReadToEnd() {
    ErrorCode ec;
    http::read(client_->socket(), client_->buffer(), parser_, ec);
    return ec;
  }
  const std::string& received() const { return received_; }
  http::response_parser<http::string_body>& parser() { return parser_; }

 private:
  BlockingClient* client_;
  std::function<size_t(uint64_t, beast::string_view, ErrorCode&)> on_chunk_;
  http::response_parser<http::string_body> parser_;
  std::string received_;
};

TEST(HttpServerTest, FullResponse) {
  IoThread io;
  auto server = MustStart(
      io.ioc(),
      [](HttpServerRequest req, std::shared_ptr<HttpResponseWriter> writer) {
        writer->SendFull(200, {{"Content-Type", "application/json"}},
                         "{\"method\":\"" + req.method + "\",\"target\":\"" +
                             req.target + "\",\"body\":\"" + req.body +
                             "\",\"x\":\"" + req.Header("x-TEST") + "\"}");
      });
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->port(), 0);

  BlockingClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_FALSE(
      client.Send(http::verb::post, "/mcp?a=1", "hi", {{"X-Test", "yes"}}));
  ErrorCode ec;
  auto res = client.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res.body(),
            "{\"method\":\"POST\",\"target\":\"/"
            "mcp?a=1\",\"body\":\"hi\",\"x\":\"yes\"}");
  EXPECT_EQ(res[http::field::content_length],
            std::to_string(res.body().size()));
  EXPECT_TRUE(res.keep_alive());
}

// A server that starts an SSE stream for every request and hands its writer
// to the test through `slot`.
std::unique_ptr<HttpServer> StartSseServer(IoThread& io, WriterSlot& slot) {
  return MustStart(
      io.ioc(), [&slot](HttpServerRequest req,
                        std::shared_ptr<HttpResponseWriter> writer) {
        writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
        slot.Put(std::move(req), std::move(writer));
      });
}

TEST(HttpServerTest, ChunkedStreamArrivesIncrementally) {
  IoThread io;
  WriterSlot slot;
  auto server = StartSseServer(io, slot);
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  ASSERT_FALSE(client.Send(http::verb::get, "/sse"));
  auto writer = slot.Wait();
  ASSERT_NE(writer, nullptr);

  ChunkReader reader(&client);
  ASSERT_FALSE(reader.ReadHeader());
  EXPECT_EQ(reader.parser().get().result_int(), 200);
  EXPECT_TRUE(reader.parser().get().chunked());
  EXPECT_EQ(reader.parser().get()[http::field::content_type],
            "text/event-stream");

  // Each chunk is read before the next one is even sent: nothing is buffered
  // whole.
  const std::string one = "data: one\n\n";
  const std::string two = "data: two\n\n";
  writer->WriteChunk(one);
  ASSERT_FALSE(reader.ReadUntil(one.size()));
  EXPECT_EQ(reader.received(), one);
  EXPECT_FALSE(reader.parser().is_done());

  absl::Notification written;
  writer->WriteChunk(two, [&written](bool ok) {
    EXPECT_TRUE(ok);
    written.Notify();
  });
  ASSERT_FALSE(reader.ReadUntil(one.size() + two.size()));
  EXPECT_EQ(reader.received(), one + two);
  ASSERT_TRUE(written.WaitForNotificationWithTimeout(kWait));
  EXPECT_FALSE(writer->closed());

  writer->EndStream();
  EXPECT_TRUE(writer->closed());
  ASSERT_FALSE(reader.ReadToEnd());
  EXPECT_TRUE(reader.parser().is_done());
  EXPECT_EQ(reader.received(), one + two);
}

TEST(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  IoThread io;
  absl::Mutex mu;
  std::vector<uint64_t> connection_ids;
  auto server = MustStart(
      io.ioc(),
      [&](HttpServerRequest req, std::shared_ptr<HttpResponseWriter> writer) {
        size_t n;
        {
          absl::MutexLock lock(&mu);
          connection_ids.push_back(req.connection_id);
          n = connection_ids.size();
        }
        writer->SendFull(200, {}, "response " + std::to_string(n));
      });
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  for (int i = 1; i <= 2; ++i) {
    ASSERT_FALSE(client.Send(http::verb::get, "/"));
    ErrorCode ec;
    auto res = client.Read(&ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.body(), "response " + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
  absl::MutexLock lock(&mu);
  ASSERT_EQ(connection_ids.size(), 2u);
  EXPECT_EQ(connection_ids[0], connection_ids[1]);
  EXPECT_NE(connection_ids[0], 0u);
}

TEST(HttpServerTest, ConnectionCloseRequestClosesAfterResponse) {
  IoThread io;
  auto server = MustStart(
      io.ioc(),
      [](HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer) {
        writer->SendFull(204, {}, "ignored: 204 has no body");
      });
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  ASSERT_FALSE(
      client.Send(http::verb::get, "/", "", {{"Connection", "close"}}));
  ErrorCode ec;
  auto res = client.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 204);
  EXPECT_EQ(res.body(), "");
  EXPECT_FALSE(res.keep_alive());
  client.Read(&ec);
  EXPECT_EQ(ec, http::error::end_of_stream);
}

TEST(HttpServerTest, OversizedBodyGets413) {
  IoThread io;
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  auto server = MustStart(
      io.ioc(),
      [&calls](HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer) {
        ++calls;
        writer->SendFull(200, {}, "");
      },
      options);
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  ASSERT_FALSE(client.Send(http::verb::post, "/", std::string(4096, 'x')));
  ErrorCode ec;
  auto res = client.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(calls.load(), 0);

  // A body at the limit is fine on a new connection.
  BlockingClient second(server->port());
  ASSERT_FALSE(second.Send(http::verb::post, "/", std::string(1024, 'x')));
  res = second.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, OversizedHeadersGet431) {
  IoThread io;
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  auto server = MustStart(
      io.ioc(),
      [](HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer) {
        writer->SendFull(200, {}, "");
      },
      options);
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  ASSERT_FALSE(client.Send(http::verb::get, "/", "",
                           {{"X-Big", std::string(4096, 'h')}}));
  ErrorCode ec;
  auto res = client.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 431);
}

TEST(HttpServerTest, MalformedRequestGets400) {
  IoThread io;
  auto server = MustStart(
      io.ioc(),
      [](HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer) {
        writer->SendFull(200, {}, "");
      });
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  ErrorCode ec;
  asio::write(client.socket(),
              asio::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")), ec);
  ASSERT_FALSE(ec);
  auto res = client.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 400);
}

TEST(HttpServerTest, AbortMidStreamTruncatesBody) {
  IoThread io;
  WriterSlot slot;
  auto server = StartSseServer(io, slot);
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  ASSERT_FALSE(client.Send(http::verb::get, "/sse"));
  auto writer = slot.Wait();
  ASSERT_NE(writer, nullptr);
  ChunkReader reader(&client);
  ASSERT_FALSE(reader.ReadHeader());

  absl::Notification written;
  writer->WriteChunk("hello", [&written](bool ok) {
    EXPECT_TRUE(ok);
    written.Notify();
  });
  ASSERT_TRUE(written.WaitForNotificationWithTimeout(kWait));
  writer->Abort();
  EXPECT_TRUE(writer->closed());

  ErrorCode ec = reader.ReadToEnd();
  EXPECT_TRUE(ec) << "a truncated chunked body must not parse as complete";
  EXPECT_FALSE(reader.parser().is_done());
  EXPECT_EQ(reader.received(), "hello");

  // Writes after Abort() are refused.
  absl::Notification refused;
  writer->WriteChunk("late", [&refused](bool ok) {
    EXPECT_FALSE(ok);
    refused.Notify();
  });
  EXPECT_TRUE(refused.WaitForNotificationWithTimeout(kWait));
}

TEST(HttpServerTest, PeerDisconnectFailsWritesAndMarksClosed) {
  IoThread io;
  WriterSlot slot;
  auto server =
      MustStart(io.ioc(), [&slot](HttpServerRequest req,
                                  std::shared_ptr<HttpResponseWriter> writer) {
        writer->StartStream(200, {});
        slot.Put(std::move(req), std::move(writer));
      });
  ASSERT_NE(server, nullptr);
  {
    BlockingClient client(server->port());
    ASSERT_FALSE(client.Send(http::verb::get, "/sse"));
    ASSERT_NE(slot.Wait(), nullptr);
  }  // The client goes away mid-stream.
  auto writer = slot.Wait();

  // Keep writing until the server notices; the first writes may still be
  // accepted by the kernel, but the connection must be seen as closed within a
  // few.
  absl::Notification failed;
  std::function<void(bool)> write_next = [&](bool ok) {
    if (!ok) {
      failed.Notify();
      return;
    }
    writer->WriteChunk(std::string(1024, 'z'), write_next);
  };
  write_next(true);
  ASSERT_TRUE(failed.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(writer->closed());
}

TEST(HttpServerTest, DroppedWriterGets500) {
  IoThread io;
  auto server = MustStart(
      io.ioc(), [](HttpServerRequest, std::shared_ptr<HttpResponseWriter>) {});
  ASSERT_NE(server, nullptr);
  BlockingClient client(server->port());
  ASSERT_FALSE(client.Send(http::verb::get, "/"));
  ErrorCode ec;
  auto res = client.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 500);
}

TEST(HttpServerTest, StopClosesOpenConnections) {
  IoThread io;
  WriterSlot slot;
  auto server =
      MustStart(io.ioc(), [&slot](HttpServerRequest req,
                                  std::shared_ptr<HttpResponseWriter> writer) {
        if (req.target == "/sse") {
          writer->StartStream(200, {});
          slot.Put(std::move(req), std::move(writer));
        } else {
          writer->SendFull(200, {}, "ok");
        }
      });
  ASSERT_NE(server, nullptr);

  // One connection mid-stream, one idle after a keep-alive response.
  BlockingClient streaming(server->port());
  ASSERT_FALSE(streaming.Send(http::verb::get, "/sse"));
  auto writer = slot.Wait();
  ASSERT_NE(writer, nullptr);
  ChunkReader reader(&streaming);
  ASSERT_FALSE(reader.ReadHeader());

  BlockingClient idle(server->port());
  ASSERT_FALSE(idle.Send(http::verb::get, "/"));
  ErrorCode ec;
  auto res = idle.Read(&ec);
  ASSERT_FALSE(ec) << ec.message();

  server->Stop();
  server->Stop();  // Idempotent.

  EXPECT_TRUE(reader.ReadToEnd());
  EXPECT_FALSE(reader.parser().is_done());
  idle.Read(&ec);
  EXPECT_TRUE(ec);

  absl::Notification refused;
  writer->WriteChunk("late", [&refused](bool ok) {
    EXPECT_FALSE(ok);
    refused.Notify();
  });
  EXPECT_TRUE(refused.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(writer->closed());

  // No new connection is served: either the connect fails or it is closed
  // unanswered.
  BlockingClient late(server->port());
  if (late.connected()) {
    late.Send(http::verb::get, "/");
    late.Read(&ec);
    EXPECT_TRUE(ec);
  }
}

TEST(HttpServerTest, BadAddressIsInvalidArgument) {
  asio::io_context ioc;
  auto server = HttpServer::Start(
      ioc, "not-an-ip", 0,
      [](HttpServerRequest, std::shared_ptr<HttpResponseWriter>) {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, PortInUseIsUnavailable) {
  IoThread io;
  auto handler = [](HttpServerRequest,
                    std::shared_ptr<HttpResponseWriter> writer) {
    writer->SendFull(200, {}, "");
  };
  auto first = MustStart(io.ioc(), handler);
  ASSERT_NE(first, nullptr);
  // SO_REUSEADDR does not allow two listeners on one port.
  auto second =
      HttpServer::Start(io.ioc(), "127.0.0.1", first->port(), handler);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shadowcat
