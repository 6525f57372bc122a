// HttpRequest::mostly_idle: a plain-TCP exchange that waits for readability
// without holding its buffers. Every case runs with it off and on, so the
// two read paths must deliver the same bytes, errors and callbacks.

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/read_until.hpp"
#include "boost/asio/streambuf.hpp"
#include "boost/asio/write.hpp"
#include "core/http/http_client.h"
#include "core/http/url.h"
#include "gtest/gtest.h"
#include "server/http_server.h"
#include "tests/core/http/http_client_harness.h"

namespace shadowcat {
namespace {

using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

class MostlyIdleTest : public testing::TestWithParam<bool> {
 protected:
  HttpRequest Get(const Harness& h, const std::string& path) const {
    HttpRequest request = h.Request("GET", path);
    request.mostly_idle = GetParam();
    return request;
  }
};

// Serves one connection from a thread: reads the request head, then writes
// `reply` a few bytes at a time with a pause after each piece, so every read
// of the client finds the socket empty first, and most pieces end in the
// middle of the status line, a header, a chunk size or an event.
class TricklingUpstream {
 public:
  TricklingUpstream(std::string reply, size_t piece, absl::Duration gap)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        thread_([this, reply = std::move(reply), piece, gap] {
          ErrorCode ec;
          tcp::socket socket(ioc_);
          acceptor_.accept(socket, ec);
          if (ec) return;
          asio::streambuf request;
          asio::read_until(socket, request, "\r\n\r\n", ec);
          for (size_t at = 0; at < reply.size() && !ec; at += piece) {
            asio::write(socket, asio::buffer(reply.substr(at, piece)), ec);
            absl::SleepFor(gap);
          }
          finished_.WaitForNotificationWithTimeout(kWait);
        }) {}
  ~TricklingUpstream() {
    finished_.Notify();
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  absl::Notification finished_;
  std::thread thread_;
};

TEST_P(MostlyIdleTest, ATricklingChunkedResponseIsReassembled) {
  const std::string events = "id: 1\ndata: {\"a\":1}\n\nid: 2\ndata: {}\n\n";
  TricklingUpstream upstream(
      absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   absl::Hex(events.size()), "\r\n", events, "\r\n0\r\n\r\n"),
      /*piece=*/7, absl::Milliseconds(5));
  Harness h([](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter>,
               ServerLog&) {});
  HttpRequest request;
  request.method = "GET";
  request.url =
      *ParseUrl(absl::StrCat("http://127.0.0.1:", upstream.port(), "/sse"));
  request.mostly_idle = GetParam();
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(std::move(request), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body(), events);
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 1u);
}

TEST_P(MostlyIdleTest, EachEventArrivesBeforeTheNextIsSent) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(Get(h, "/sse"), rec);
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    // Long enough for the client to be waiting again, buffers released.
    absl::SleepFor(absl::Milliseconds(20));
    const std::string event = absl::StrCat("id: ", i, "\ndata: {}\n\n");
    writer->WriteChunk(event);
    expected += event;
    ASSERT_TRUE(rec->WaitBody(expected.size()));
    EXPECT_EQ(rec->Body(), expected);
  }
  writer->EndStream();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  ExpectCleanCallbacks(rec);
}

TEST_P(MostlyIdleTest, BodyPiecesStayWithinTheReadBuffer) {
  HttpClientOptions options;
  options.read_buffer_bytes = 1000;
  const std::string big(25000, 'x');
  Harness h(
      [big](size_t, HttpServerRequest, std::shared_ptr<HttpResponseWriter> w,
            ServerLog&) {
        w->StartStream(200, {});
        w->WriteChunk(big);
        w->EndStream();
      },
      options);
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(Get(h, "/big"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  ExpectCleanCallbacks(rec);
  absl::MutexLock lock(&rec->mu);
  EXPECT_EQ(rec->body, big);
  for (const std::string& piece : rec->pieces) EXPECT_LE(piece.size(), 1000u);
}

TEST_P(MostlyIdleTest, CancelWhileWaitingEndsItOnce) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    writer->WriteChunk("data: first\n\n");
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(Get(h, "/sse"), rec);
  ASSERT_TRUE(rec->WaitBody(1));
  absl::SleepFor(absl::Milliseconds(20));  // waiting for more by now
  exchange->Cancel();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kCancelled)
      << rec->Status();
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  writer->WriteChunk("data: late\n\n");
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(rec->Body(), "data: first\n\n");
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 0u);
}

TEST_P(MostlyIdleTest, SilenceWhileWaitingIsDeadlineExceeded) {
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
  auto exchange = h.Start(Get(h, "/sse"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kDeadlineExceeded)
      << rec->Status();
  EXPECT_EQ(rec->Body(), "data: 1\n\n");
  ExpectCleanCallbacks(rec);
}

TEST_P(MostlyIdleTest, PeerClosingWhileWaitingIsAnError) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    writer->WriteChunk("data: partial\n\n");
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(Get(h, "/sse"), rec);
  ASSERT_TRUE(rec->WaitBody(1));
  absl::SleepFor(absl::Milliseconds(20));
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  writer->Abort();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kUnavailable)
      << rec->Status();
  EXPECT_EQ(rec->Body(), "data: partial\n\n");
  ExpectCleanCallbacks(rec);
}

TEST_P(MostlyIdleTest, PausedWhileWaitingDeliversNothingUntilResumed) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"}});
    writer->WriteChunk("data: 1\n\n");
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.StartPausingAtFirstPiece(Get(h, "/sse"), rec);
  ASSERT_TRUE(rec->WaitBody(1));
  auto writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  writer->WriteChunk("data: 2\n\n");
  writer->EndStream();
  EXPECT_FALSE(rec->WaitBody(10, absl::Milliseconds(200)))
      << "on_body arrived while paused";
  asio::post(h.strand(), [exchange] { exchange->Resume(); });
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body(), "data: 1\n\ndata: 2\n\n");
  ExpectCleanCallbacks(rec);
}

INSTANTIATE_TEST_SUITE_P(ReadPaths, MostlyIdleTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? "MostlyIdle" : "Direct";
                         });

}  // namespace
}  // namespace shadowcat
