#include "tests/fakes/blocking_http_client.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address_v4.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"
#include "boost/json/parse.hpp"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

constexpr uint64_t kMaxBodyBytes = 64 << 20;

absl::Status FailedStep(absl::string_view step, const beast::error_code& ec) {
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError(absl::StrCat("timed out while ", step));
  }
  return absl::UnavailableError(absl::StrCat(step, " failed: ", ec.message()));
}

}  // namespace

std::string TestHttpResponse::Header(absl::string_view name) const {
  return HeaderOrEmpty(headers, name);
}

absl::StatusOr<TestHttpResponse> SendTestHttpRequest(
    uint16_t port, const TestHttpRequest& request) {
  http::request<http::string_body> message;
  message.version(11);
  message.method_string(request.method);
  message.target(request.target);
  message.set(http::field::host, absl::StrCat("127.0.0.1:", port));
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  message.body() = request.body;
  message.prepare_payload();

  // Asynchronous operations driven to completion here, because only they honour
  // the tcp_stream deadline.
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  absl::Status status;
  bool head_read = false;
  beast::error_code body_ec;

  stream.expires_after(absl::ToChronoNanoseconds(request.timeout));
  stream.async_connect(
      tcp::endpoint(boost::asio::ip::address_v4::loopback(), port),
      [&](beast::error_code ec) {
        if (ec) {
          status = FailedStep("connecting", ec);
          return;
        }
        http::async_write(stream, message, [&](beast::error_code ec, size_t) {
          if (ec) {
            status = FailedStep("sending the request", ec);
            return;
          }
          http::async_read_header(
              stream, buffer, parser, [&](beast::error_code ec, size_t) {
                if (ec) {
                  status = FailedStep("reading the response head", ec);
                  return;
                }
                head_read = true;
                if (request.head_read != nullptr) request.head_read->Notify();
                http::async_read(
                    stream, buffer, parser,
                    [&](beast::error_code ec, size_t) { body_ec = ec; });
              });
        });
      });
  ioc.run();
  if (!status.ok()) return status;
  if (!head_read) return absl::InternalError("no response head and no error");

  TestHttpResponse response;
  const http::response<http::string_body>& reply = parser.get();
  response.status = reply.result_int();
  for (const auto& field : reply) {
    response.headers.emplace_back(std::string(field.name_string()),
                                  std::string(field.value()));
  }
  response.body = reply.body();
  response.complete = !body_ec;
  return response;
}

absl::StatusOr<TestHttpResponse> PostMcp(uint16_t port, absl::string_view body,
                                         HttpHeaders headers) {
  headers.emplace_back("Content-Type", "application/json");
  headers.emplace_back("Accept", "application/json, text/event-stream");
  return SendTestHttpRequest(
      port, {.headers = std::move(headers), .body = std::string(body)});
}

TestHttpResponse PostMcpOrFail(uint16_t port, absl::string_view body,
                               HttpHeaders headers) {
  absl::StatusOr<TestHttpResponse> response =
      PostMcp(port, body, std::move(headers));
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? *std::move(response) : TestHttpResponse{};
}

boost::json::value JsonOrFail(absl::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(
      boost::json::string_view(text.data(), text.size()), ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return ec ? boost::json::value() : value;
}

std::vector<std::string> SseEventData(absl::string_view body) {
  std::vector<std::string> events;
  for (absl::string_view block :
       absl::StrSplit(body, "\n\n", absl::SkipWhitespace())) {
    std::vector<absl::string_view> data;
    for (absl::string_view line : absl::StrSplit(block, '\n')) {
      if (!absl::ConsumePrefix(&line, "data:")) continue;
      absl::ConsumePrefix(&line, " ");
      data.push_back(line);
    }
    if (!data.empty()) events.push_back(absl::StrJoin(data, "\n"));
  }
  return events;
}

}  // namespace shadowcat
