#include "core/http/http_client.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/read_until.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/streambuf.hpp"
#include "boost/asio/write.hpp"
#include "core/http/url.h"
#include "gtest/gtest.h"
#include "server/http_server.h"
#include "tests/core/http/http_client_harness.h"

namespace shadowcat {
namespace {

using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

void WriteUntilFailure(std::shared_ptr<HttpResponseWriter> writer,
                       std::shared_ptr<absl::Notification> failed) {
  writer->WriteChunk(std::string(512, 'z'), [writer, failed](bool ok) {
    if (ok) {
      WriteUntilFailure(writer, failed);
    } else {
      failed->Notify();
    }
  });
}

TEST(HttpClientTest, JsonResponse) {
  Harness h([](size_t, HttpServerRequest req,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
    writer->SendFull(
        200, {{"Content-Type", "Application/JSON; charset=utf-8"}},
        R"({"jsonrpc":"2.0","id":1,"result":{"echo":)" + req.body + "}}");
  });
  auto rec = std::make_shared<Recorder>();
  HttpRequest request = h.Request("POST", "/mcp?x=1", "\"hi\"");
  request.headers = {{"Content-Type", "application/json"},
                     {"Accept", "application/json, text/event-stream"},
                     {"Host", "evil.example"},
                     {"Connection", "close"}};
  auto exchange = h.Start(std::move(request), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  ExpectCleanCallbacks(rec);
  {
    absl::MutexLock lock(&rec->mu);
    ASSERT_TRUE(rec->head.has_value());
    EXPECT_EQ(rec->head->status, 200);
    EXPECT_EQ(rec->head->MediaType(), "application/json");
    EXPECT_EQ(rec->head->Header("content-TYPE").value_or(""),
              "Application/JSON; charset=utf-8");
    EXPECT_FALSE(rec->head->Header("x-missing").has_value());
    EXPECT_EQ(rec->body, R"({"jsonrpc":"2.0","id":1,"result":{"echo":"hi"}})");
  }
  auto requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/mcp?x=1");
  EXPECT_EQ(requests[0].body, "\"hi\"");
  EXPECT_EQ(requests[0].Header("Host"), absl::StrCat("127.0.0.1:", h.port()));
  EXPECT_EQ(requests[0].Header("Content-Length"), "4");
  EXPECT_EQ(requests[0].Header("Connection"), "keep-alive");
  EXPECT_EQ(requests[0].Header("Accept"),
            "application/json, text/event-stream");
}

TEST(HttpClientTest, ChunkedSseBodyArrivesInPiecesBeforeTheEnd) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/sse"), rec);
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);

  const std::string events[] = {"id: 1\ndata: {\"a\":1}\n\n",
                                "id: 2\ndata: {\"b\":2}\n\n",
                                ": keepalive\n\n"};
  std::string expected;
  for (const std::string& event : events) {
    writer->WriteChunk(event);
    expected += event;
    // Each event is delivered before the next is even sent, and the exchange is
    // open.
    ASSERT_TRUE(rec->WaitBody(expected.size()));
    EXPECT_EQ(rec->Body(), expected);
    absl::MutexLock lock(&rec->mu);
    EXPECT_EQ(rec->done_calls, 0);
    EXPECT_EQ(rec->head->MediaType(), "text/event-stream");
  }
  EXPECT_GE(rec->Pieces(), 3u);
  writer->EndStream();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body(), expected);
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 1u);
}

TEST(HttpClientTest, BodyPiecesAreAtMostReadBufferBytes) {
  HttpClientOptions options;
  options.read_buffer_bytes = 1000;
  const std::string big(25000, 'x');
  Harness h(
      [big](size_t, HttpServerRequest req,
            std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
        if (req.target == "/chunked") {
          writer->StartStream(200, {});
          writer->WriteChunk(big);
          writer->EndStream();
        } else {
          writer->SendFull(200, {}, big);
        }
      },
      options);
  for (const char* path : {"/full", "/chunked"}) {
    SCOPED_TRACE(path);
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request("GET", path), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    ExpectCleanCallbacks(rec);
    absl::MutexLock lock(&rec->mu);
    EXPECT_EQ(rec->body, big);
    EXPECT_GE(rec->pieces.size(), 25u);
    for (const std::string& piece : rec->pieces) EXPECT_LE(piece.size(), 1000u);
  }
}

TEST(HttpClientTest, KeepAliveReusesOneConnection) {
  Harness h([](size_t n, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
    writer->SendFull(200, {}, absl::StrCat("reply ", n));
  });
  EXPECT_EQ(h.client().idle_connections(), 0u);
  for (int i = 1; i <= 2; ++i) {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request("GET", "/"), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    EXPECT_EQ(rec->Body(), absl::StrCat("reply ", i));
    ExpectCleanCallbacks(rec);
    EXPECT_EQ(h.client().idle_connections(), 1u);
  }
  auto requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id)
      << "the second request should reuse the first TCP connection";
}

TEST(HttpClientTest, IdleTimeoutAndPoolSizeAreEnforced) {
  HttpClientOptions options;
  options.idle_timeout =
      absl::ZeroDuration();  // Everything pooled is already too old.
  Harness h(
      [](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer,
         ServerLog&) { writer->SendFull(200, {}, "ok"); },
      options);
  for (int i = 0; i < 2; ++i) {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request("GET", "/"), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    EXPECT_EQ(h.client().idle_connections(), 0u);
  }
  auto requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].connection_id, requests[1].connection_id);

  // max_idle_per_origin bounds what is kept when several exchanges finish
  // together.
  HttpClientOptions small;
  small.max_idle_per_origin = 1;
  Harness h2(
      [](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer,
         ServerLog&) { writer->SendFull(200, {}, "ok"); },
      small);
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<std::shared_ptr<HttpExchange>> exchanges;
  for (int i = 0; i < 3; ++i) {
    recs.push_back(std::make_shared<Recorder>());
    exchanges.push_back(h2.Start(h2.Request("GET", "/"), recs.back()));
  }
  for (auto& rec : recs) {
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  }
  EXPECT_EQ(h2.client().idle_connections(), 1u);
}

TEST(HttpClientTest, ConnectRefusedIsUnavailable) {
  Harness h([](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter>,
               ServerLog&) {});
  // A bound socket that is not listening: connecting to it is refused at once.
  asio::io_context ioc;
  tcp::socket blocker(ioc);
  ErrorCode ec;
  blocker.open(tcp::v4(), ec);
  ASSERT_FALSE(ec);
  blocker.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ec);
  ASSERT_FALSE(ec);
  const uint16_t port = blocker.local_endpoint().port();

  auto rec = std::make_shared<Recorder>();
  HttpRequest request;
  request.method = "GET";
  request.url = *ParseUrl(absl::StrCat("http://127.0.0.1:", port, "/"));
  auto exchange = h.Start(std::move(request), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kUnavailable)
      << rec->Status();
  ExpectCleanCallbacks(rec);
  absl::MutexLock lock(&rec->mu);
  EXPECT_FALSE(rec->head.has_value());
}

TEST(HttpClientTest, SilentUpstreamIsDeadlineExceeded) {
  HttpClientOptions options;
  options.read_timeout = absl::Milliseconds(200);
  Harness h(
      [](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer,
         ServerLog& log) { log.Hold(std::move(writer)); },  // Never answers.
      options);
  auto rec = std::make_shared<Recorder>();
  const absl::Time start = absl::Now();
  auto exchange = h.Start(h.Request("GET", "/"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kDeadlineExceeded)
      << rec->Status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  ExpectCleanCallbacks(rec);
}

TEST(HttpClientTest, SilenceMidBodyIsDeadlineExceeded) {
  HttpClientOptions options;
  options.read_timeout = absl::Milliseconds(200);
  Harness h(
      [](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer,
         ServerLog& log) {
        writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
        writer->WriteChunk("data: 1\n\n");
        log.Hold(std::move(writer));
      },
      options);
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/sse"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kDeadlineExceeded)
      << rec->Status();
  EXPECT_EQ(rec->Body(), "data: 1\n\n");
  ExpectCleanCallbacks(rec);
}

TEST(HttpClientTest, CancelMidStreamIsCancelledExactlyOnce) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    writer->WriteChunk("data: first\n\n");
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/sse"), rec);
  ASSERT_TRUE(rec->WaitBody(1));
  // From a thread that is not the executor, twice.
  exchange->Cancel();
  exchange->Cancel();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kCancelled)
      << rec->Status();

  // The upstream keeps writing until it notices the connection is gone (Cancel
  // closed it); nothing more reaches the handlers.
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  auto write_failed = std::make_shared<absl::Notification>();
  WriteUntilFailure(writer, write_failed);
  ASSERT_TRUE(write_failed->WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(writer->closed());
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 0u);
  // Cancel after on_done is a no-op.
  exchange->Cancel();
}

// Every read arms the read timeout anew: a body that keeps trickling in, each
// piece within the timeout, is never cut however long it takes in total.
TEST(HttpClientTest, ReadTimeoutCountsFromTheLastBytesNotTheFirst) {
  HttpClientOptions options;
  options.read_timeout = absl::Milliseconds(300);
  Harness h(
      [](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer,
         ServerLog& log) {
        writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
        log.Hold(std::move(writer));
      },
      options);
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/sse"), rec);
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  for (int i = 0; i < 8; ++i) {  // 8 x 100 ms: well past one read timeout
    writer->WriteChunk("data: x\n\n");
    absl::SleepFor(absl::Milliseconds(100));
  }
  writer->EndStream();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body().size(), 8 * std::string("data: x\n\n").size());
  ExpectCleanCallbacks(rec);
}

// A POST answered with an SSE stream whose first event has arrived and whose
// end the server holds: the moment a session calls Drain().
Script HeldSseResponse() {
  return [](size_t, HttpServerRequest,
            std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    writer->WriteChunk("data: response\n\n");
    log.Hold(std::move(writer));
  };
}

// Starts the POST, waits for the response event, then drains from the strand.
std::shared_ptr<HttpExchange> StartThenDrain(
    Harness& h, const std::shared_ptr<Recorder>& rec, size_t max_bytes,
    absl::Duration timeout) {
  auto exchange = h.Start(h.Request("POST", "/mcp", "{}"), rec);
  EXPECT_TRUE(rec->WaitBody(1));
  asio::post(h.strand(), [exchange, max_bytes, timeout] {
    exchange->Drain(max_bytes, timeout);
  });
  return exchange;
}

// SS-02: a POST's SSE stream is ended by the server right after its response.
// Drain() reads that end instead of closing the connection, so it is pooled.
TEST(HttpClientTest, DrainPoolsAConnectionWhoseBodyEndsWithinBudget) {
  Harness h(HeldSseResponse());
  auto rec = std::make_shared<Recorder>();
  auto exchange = StartThenDrain(h, rec, 64 << 10, absl::Seconds(10));
  const std::string seen = rec->Body();
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  writer->WriteChunk(": after the response\n\n");
  writer->EndStream();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body(), seen) << "on_body ran after Drain()";
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 1u);
}

TEST(HttpClientTest, DrainClosesABodyThatOutgrowsItsBudget) {
  Harness h(HeldSseResponse());
  auto rec = std::make_shared<Recorder>();
  auto exchange = StartThenDrain(h, rec, 100, absl::Seconds(10));
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  writer->WriteChunk(std::string(4096, 'z'));
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_FALSE(rec->Status().ok());
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 0u);
}

TEST(HttpClientTest, DrainClosesABodyThatDoesNotEndInTime) {
  Harness h(HeldSseResponse());
  auto rec = std::make_shared<Recorder>();
  auto exchange = StartThenDrain(h, rec, 64 << 10, absl::Milliseconds(200));
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kDeadlineExceeded)
      << rec->Status();
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 0u);
}

TEST(HttpClientTest, OversizedHeadersAreResourceExhausted) {
  HttpClientOptions options;
  options.max_header_bytes = 1024;
  Harness h(
      [](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer,
         ServerLog&) {
        writer->SendFull(200, {{"X-Big", std::string(4096, 'h')}}, "ok");
      },
      options);
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kResourceExhausted)
      << rec->Status();
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 0u);
}

TEST(HttpClientTest, PauseStopsDeliveryUntilResume) {
  constexpr int kChunks = 64;
  constexpr size_t kChunkBytes = 1024;
  auto server_done = std::make_shared<absl::Notification>();
  Harness h([server_done](size_t, HttpServerRequest,
                          std::shared_ptr<HttpResponseWriter> writer,
                          ServerLog&) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    StreamChunks(writer, kChunks, kChunkBytes, [writer, server_done] {
      writer->EndStream();
      server_done->Notify();
    });
  });
  auto rec = std::make_shared<Recorder>();
  std::shared_ptr<HttpExchange> exchange =
      h.StartPausingAtFirstPiece(h.Request("GET", "/sse"), rec);
  ASSERT_TRUE(rec->WaitBody(1));
  const size_t paused_at = rec->Body().size();
  EXPECT_LT(paused_at, kChunks * kChunkBytes);

  // All of the body is now in our socket buffer (64 KiB fits), yet none is
  // delivered.
  ASSERT_TRUE(server_done->WaitForNotificationWithTimeout(kWait));
  EXPECT_FALSE(rec->WaitBody(paused_at + 1, absl::Milliseconds(300)))
      << "on_body arrived while paused";
  {
    absl::MutexLock lock(&rec->mu);
    EXPECT_EQ(rec->pieces.size(), 1u);
    EXPECT_EQ(rec->done_calls, 0);
  }

  asio::post(h.strand(), [exchange] { exchange->Resume(); });
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body().size(), kChunks * kChunkBytes);
  ExpectCleanCallbacks(rec);
}

TEST(HttpClientTest, AcceptedWithEmptyBody) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer,
               ServerLog&) { writer->SendFull(202, {}, ""); });
  for (int i = 0; i < 2; ++i) {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(
        h.Request("POST", "/mcp", R"({"jsonrpc":"2.0","method":"x"})"), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    ExpectCleanCallbacks(rec);
    absl::MutexLock lock(&rec->mu);
    ASSERT_TRUE(rec->head.has_value());
    EXPECT_EQ(rec->head->status, 202);
    EXPECT_TRUE(rec->pieces.empty());
  }
  EXPECT_EQ(h.client().idle_connections(), 1u);
  auto requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
}

TEST(HttpClientTest, HeadAnd204HaveNoBody) {
  Harness h([](size_t, HttpServerRequest req,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
    writer->SendFull(req.method == "HEAD" ? 200 : 204, {}, "body only for GET");
  });
  for (const char* method : {"HEAD", "DELETE"}) {
    SCOPED_TRACE(method);
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request(method, "/"), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    ExpectCleanCallbacks(rec);
    EXPECT_EQ(rec->Body(), "");
  }
  EXPECT_EQ(h.client().idle_connections(), 1u);
}

TEST(HttpClientTest, ServerClosingMidBodyIsAnError) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    writer->WriteChunk("data: partial\n\n",
                       [writer](bool) { writer->Abort(); });
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/sse"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kUnavailable)
      << rec->Status();
  EXPECT_EQ(rec->Body(), "data: partial\n\n");
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 0u);
}

// The 2nd request (on the pooled connection) is dropped unanswered after the
// server read it, as when an upstream crashes while handling it.
Script DropSecondRequest() {
  return [](size_t n, HttpServerRequest,
            std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
    if (n == 2) {
      writer->Abort();
    } else {
      writer->SendFull(200, {}, absl::StrCat("reply ", n));
    }
  };
}

TEST(HttpClientTest, PostIsNotReplayedAfterTheServerMayHaveReceivedIt) {
  // F5: the server saw the POST and may have acted on it (a tools/call), so
  // sending it again could run the tool twice.
  Harness h(DropSecondRequest());
  for (int i = 0; i < 2; ++i) {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request("POST", "/mcp", "{}"), rec);
    ASSERT_TRUE(rec->WaitDone());
    ExpectCleanCallbacks(rec);
    if (i == 0) {
      EXPECT_TRUE(rec->Status().ok()) << rec->Status();
      EXPECT_EQ(rec->Body(), "reply 1");
    } else {
      EXPECT_EQ(rec->Status().code(), absl::StatusCode::kUnavailable)
          << rec->Status();
      EXPECT_TRUE(absl::StrContains(
          rec->Status().message(),
          "closed before a response; not retried because the request may "
          "have been received"))
          << rec->Status();
    }
  }
  auto requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 2u);  // The POST reached the handler once.
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
}

TEST(HttpClientTest, IdempotentRequestOnDeadPooledConnectionIsRetriedOnce) {
  Harness h(DropSecondRequest());
  for (int i = 0; i < 2; ++i) {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request("GET", "/mcp"), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    ExpectCleanCallbacks(rec);
    EXPECT_EQ(rec->Body(), i == 0 ? "reply 1" : "reply 3");
  }
  auto requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
  EXPECT_NE(requests[1].connection_id, requests[2].connection_id);
}

TEST(HttpClientTest, FreshConnectionFailureIsNotRetried) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer,
               ServerLog&) { writer->Abort(); });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("POST", "/mcp", "{}"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kUnavailable)
      << rec->Status();
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.log().Requests().size(), 1u);
}

TEST(HttpClientTest, BodyUntilCloseAndPeerClosedIdleConnection) {
  // A raw upstream: an HTTP/1.1 reply with neither Content-Length nor chunked
  // framing, whose body therefore ends when the connection closes.
  asio::io_context raw_ioc;
  tcp::acceptor acceptor(raw_ioc,
                         tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  std::thread upstream([&acceptor] {
    for (int i = 0; i < 2; ++i) {
      ErrorCode ec;
      tcp::socket socket(acceptor.get_executor());
      acceptor.accept(socket, ec);
      if (ec) return;
      asio::streambuf request;
      asio::read_until(socket, request, "\r\n\r\n", ec);
      const std::string reply =
          i == 0
              ? "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"
              : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      asio::write(socket, asio::buffer(reply), ec);
      // The second connection is closed while idle in the client's pool.
    }
  });
  Harness h([](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter>,
               ServerLog&) {});
  HttpRequest request;
  request.method = "GET";
  request.url = *ParseUrl(absl::StrCat("http://127.0.0.1:", port, "/"));
  {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(request, rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    EXPECT_EQ(rec->Body(), "until close");
    ExpectCleanCallbacks(rec);
    EXPECT_EQ(h.client().idle_connections(), 0u);
  }
  {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(request, rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    EXPECT_EQ(rec->Body(), "ok");
  }
  upstream.join();  // Its socket is closed now; the pooled connection is dead.
  // The dead connection is noticed at reuse and not handed out: the next
  // exchange connects afresh and is refused (the raw upstream accepts no more).
  acceptor.close();
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(request, rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kUnavailable)
      << rec->Status();
  EXPECT_EQ(h.client().idle_connections(), 0u);
}

TEST(HttpClientTest, InvalidRequestIsInvalidArgument) {
  Harness h([](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter>,
               ServerLog&) {});
  HttpRequest bad_header = h.Request("POST", "/");
  bad_header.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  HttpRequest bad_method = h.Request("GE T", "/");
  for (HttpRequest* request : {&bad_header, &bad_method}) {
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(*request, rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_EQ(rec->Status().code(), absl::StatusCode::kInvalidArgument)
        << rec->Status();
  }
  EXPECT_TRUE(h.log().Requests().empty());
}

TEST(HttpClientTest, ShutdownCancelsExchangesInFlight) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {});
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/sse"), rec);
  ASSERT_NE(h.log().WaitHeld(), nullptr);
  h.client().Shutdown();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kCancelled)
      << rec->Status();
  ExpectCleanCallbacks(rec);

  // After Shutdown() new exchanges end at once.
  auto late = std::make_shared<Recorder>();
  auto late_exchange = h.Start(h.Request("GET", "/"), late);
  ASSERT_TRUE(late->WaitDone());
  EXPECT_EQ(late->Status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace shadowcat
