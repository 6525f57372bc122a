// HttpClient against real loopback upstreams: Content-Encoding (PX-07) on
// whole bodies and streams, with backpressure and keep-alive intact, and
// redirects (PX-08, SC-02).

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "boost/asio/post.hpp"
#include "core/http/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/http/http_client_harness.h"
#include "tests/fakes/content_coding.h"

namespace shadowcat {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kJson[] =
    R"({"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text",)"
    R"("text":"compressed, compressed, compressed"}]}})";

// Answers every request with `body` encoded as `coding`.
Script Encoded(std::string coding, std::string body, bool chunked = false) {
  return
      [coding, body](size_t, HttpServerRequest,
                     std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
        HttpHeaders headers = {{"Content-Type", "application/json"},
                               {"Content-Encoding", coding}};
        const std::string encoded = EncodeContent(coding, body).value_or(body);
        writer->SendFull(200, std::move(headers), encoded);
      };
}

TEST(HttpClientCodingTest, PX07_GzipBodyIsDecodedAndTheConnectionReused) {
  Harness h(Encoded("gzip", kJson));
  for (int i = 0; i < 2; ++i) {
    auto rec = std::make_shared<Recorder>();
    HttpRequest request = h.Request("POST", "/mcp", "{}");
    // The client owns Accept-Encoding: it advertises only what it decodes.
    request.headers = {{"Accept-Encoding", "zstd"}};
    auto exchange = h.Start(std::move(request), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    ExpectCleanCallbacks(rec);
    EXPECT_EQ(rec->Body(), kJson);
    // Content-Length framed the compressed body, all of which was read.
    EXPECT_EQ(h.client().idle_connections(), 1u);
  }
  std::vector<HttpServerRequest> requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
  EXPECT_EQ(requests[0].Header("Accept-Encoding"), "gzip, deflate, br");
}

TEST(HttpClientCodingTest, PX07_EveryAdvertisedCodingDecodes) {
  for (const char* coding : {"gzip", "x-gzip", "deflate", "br"}) {
    SCOPED_TRACE(coding);
    Harness h(Encoded(coding, kJson));
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request("POST", "/mcp", "{}"), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_TRUE(rec->Status().ok()) << rec->Status();
    EXPECT_EQ(rec->Body(), kJson);
  }
}

// An SSE stream compressed as one gzip stream, flushed per event and sent in
// chunks of odd sizes: each event is readable before the next is sent.
TEST(HttpClientCodingTest, PX07_GzipSseStreamIsDecodedEventByEvent) {
  Harness h([](size_t, HttpServerRequest,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog& log) {
    writer->StartStream(200, {{"Content-Type", "text/event-stream"},
                              {"Content-Encoding", "gzip"}});
    log.Hold(std::move(writer));
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("GET", "/sse"), rec);
  std::shared_ptr<HttpResponseWriter> writer = h.log().WaitHeld();
  ASSERT_NE(writer, nullptr);
  std::unique_ptr<FlushedZlibStream> gzip = FlushedZlibStream::Create("gzip");
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    const std::string event =
        absl::StrCat("id: ", i, "\ndata: {\"n\":", i, "}\n\n");
    expected += event;
    const std::string compressed = gzip->Write(event);
    for (size_t at = 0; at < compressed.size(); at += 3) {
      writer->WriteChunk(compressed.substr(at, 3));
    }
    ASSERT_TRUE(rec->WaitBody(expected.size())) << "event " << i;
    EXPECT_EQ(rec->Body(), expected);
  }
  writer->WriteChunk(gzip->Finish());
  writer->EndStream();
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body(), expected);
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(h.client().idle_connections(), 1u);
}

// One small compressed read expands to 4 MiB. A consumer that pauses at its
// first piece gets nothing more until it resumes, and every piece stays
// within read_buffer_bytes: the expansion waits in the decoder, not in
// memory.
TEST(HttpClientCodingTest, PX07_PauseHoldsBackDecodedOutput) {
  constexpr size_t kExpanded = 4 << 20;
  HttpClientOptions options;
  options.read_buffer_bytes = 1000;
  Harness h(Encoded("gzip", std::string(kExpanded, 'x')), options);
  auto rec = std::make_shared<Recorder>();
  std::shared_ptr<HttpExchange> exchange =
      h.StartPausingAtFirstPiece(h.Request("GET", "/bomb"), rec);
  ASSERT_TRUE(rec->WaitBody(1));
  EXPECT_FALSE(rec->WaitBody(1001, absl::Milliseconds(300)))
      << "decoded bytes arrived while paused";
  EXPECT_EQ(rec->Pieces(), 1u);

  asio::post(h.strand(), [exchange] { exchange->Resume(); });
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  ExpectCleanCallbacks(rec);
  absl::MutexLock lock(&rec->mu);
  EXPECT_EQ(rec->body.size(), kExpanded);
  EXPECT_GE(rec->pieces.size(), kExpanded / 1000);
  for (const std::string& piece : rec->pieces) EXPECT_LE(piece.size(), 1000u);
}

TEST(HttpClientCodingTest, PX07_UnknownCodingFailsOnlyWhenThereIsABody) {
  Harness h([](size_t, HttpServerRequest request,
               std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
    const int status = request.target == "/empty" ? 204 : 200;
    writer->SendFull(status, {{"Content-Encoding", "compress"}},
                     status == 204 ? "" : "\x1f\x9d\x90 lzw");
  });
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("POST", "/mcp", "{}"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_EQ(rec->Status().code(), absl::StatusCode::kDataLoss) << rec->Status();
  EXPECT_THAT(rec->Status().message(),
              HasSubstr("Content-Encoding \"compress\" is not supported"));
  EXPECT_THAT(rec->Status().message(),
              HasSubstr(absl::StrCat("from http://127.0.0.1:", h.port())));
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(rec->Body(), "");
  EXPECT_EQ(h.client().idle_connections(), 0u);

  auto empty = std::make_shared<Recorder>();
  auto exchange2 = h.Start(h.Request("POST", "/empty", "{}"), empty);
  ASSERT_TRUE(empty->WaitDone());
  EXPECT_TRUE(empty->Status().ok()) << empty->Status();
}

TEST(HttpClientCodingTest, PX07_CorruptOrTruncatedGzipFailsAndIsNotPooled) {
  const std::string gzip = *EncodeContent("gzip", std::string(5000, 'j'));
  Harness h([gzip](size_t, HttpServerRequest request,
                   std::shared_ptr<HttpResponseWriter> writer, ServerLog&) {
    const std::string body = request.target == "/corrupt"
                                 ? std::string("definitely not gzip")
                                 : gzip.substr(0, gzip.size() / 2);
    writer->SendFull(200, {{"Content-Encoding", "gzip"}}, body);
  });
  for (const char* path : {"/corrupt", "/truncated"}) {
    SCOPED_TRACE(path);
    auto rec = std::make_shared<Recorder>();
    auto exchange = h.Start(h.Request("GET", path), rec);
    ASSERT_TRUE(rec->WaitDone());
    EXPECT_EQ(rec->Status().code(), absl::StatusCode::kDataLoss)
        << rec->Status();
    EXPECT_THAT(
        rec->Status().message(),
        HasSubstr(absl::string_view(path) == "/corrupt" ? "corrupt gzip body"
                                                        : "truncated"));
    ExpectCleanCallbacks(rec);
    EXPECT_EQ(h.client().idle_connections(), 0u);
  }
}

// --- Redirects ------------------------------------------------------------

// 307 to /mcp/moved (or wherever the script says) for the first request,
// then the body echoed back.
Script RedirectOnce(int status, std::string location) {
  return [status, location](size_t n, HttpServerRequest request,
                            std::shared_ptr<HttpResponseWriter> writer,
                            ServerLog&) {
    if (n == 1) {
      writer->SendFull(status, {{"Location", location}}, "moved");
    } else {
      writer->SendFull(200, {{"Content-Type", "application/json"}},
                       request.body);
    }
  };
}

TEST(HttpClientCodingTest, PX08_SameOrigin307ReplaysThePostOnce) {
  Harness h(RedirectOnce(307, "/mcp/moved?v=2"), {}, {"/mcp"});
  auto rec = std::make_shared<Recorder>();
  HttpRequest request = h.Request("POST", "/mcp", R"({"id":7})");
  request.headers = {{"Mcp-Session-Id", "s-1"}, {"Authorization", "Bearer t"}};
  auto exchange = h.Start(std::move(request), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  ExpectCleanCallbacks(rec);
  EXPECT_EQ(rec->Body(), R"({"id":7})");
  {
    absl::MutexLock lock(&rec->mu);
    ASSERT_TRUE(rec->head.has_value());
    EXPECT_EQ(rec->head->status, 200) << "only the final answer is seen";
  }
  std::vector<HttpServerRequest> requests = h.log().Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].target, "/mcp/moved?v=2");
  EXPECT_EQ(requests[1].body, requests[0].body);
  for (const char* name : {"Mcp-Session-Id", "Authorization", "Host"}) {
    EXPECT_EQ(requests[1].Header(name), requests[0].Header(name)) << name;
  }
}

TEST(HttpClientCodingTest, PX08_RefusedRedirectReachesOnHeadWithItsReason) {
  Harness h(RedirectOnce(307, "http://127.0.0.2:1/mcp?token=secret"), {},
            {"/mcp"});
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("POST", "/mcp", "{}"), rec);
  ASSERT_TRUE(rec->WaitDone());
  EXPECT_TRUE(rec->Status().ok()) << rec->Status();
  EXPECT_EQ(rec->Body(), "moved");
  absl::MutexLock lock(&rec->mu);
  ASSERT_TRUE(rec->head.has_value());
  EXPECT_EQ(rec->head->status, 307);
  EXPECT_THAT(rec->head->redirect_refusal,
              HasSubstr("another origin, http://127.0.0.2:1"));
  EXPECT_THAT(rec->head->redirect_refusal, Not(HasSubstr("secret")));
  EXPECT_EQ(h.log().Requests().size(), 1u);
}

TEST(HttpClientCodingTest, PX08_WithoutAnAllowlistNoRedirectIsFollowed) {
  Harness h(RedirectOnce(308, "/mcp/moved"));
  auto rec = std::make_shared<Recorder>();
  auto exchange = h.Start(h.Request("POST", "/mcp", "{}"), rec);
  ASSERT_TRUE(rec->WaitDone());
  absl::MutexLock lock(&rec->mu);
  ASSERT_TRUE(rec->head.has_value());
  EXPECT_EQ(rec->head->status, 308);
  EXPECT_EQ(rec->head->redirect_refusal, "redirects are not followed");
}

}  // namespace
}  // namespace shadowcat
