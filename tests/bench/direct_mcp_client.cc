#include "tests/bench/direct_mcp_client.h"

#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"

namespace shadowcat {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct DirectMcpClient::Io {
  asio::io_context ioc;
  asio::ip::tcp::socket socket{ioc};
  boost::beast::flat_buffer buffer;
};

absl::StatusOr<std::unique_ptr<DirectMcpClient>> DirectMcpClient::Connect(
    uint16_t port, std::string target) {
  auto io = std::make_unique<Io>();
  boost::system::error_code ec;
  io->socket.connect({asio::ip::make_address_v4("127.0.0.1"), port}, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  io->socket.set_option(asio::ip::tcp::no_delay(true), ec);
  return std::unique_ptr<DirectMcpClient>(
      new DirectMcpClient(std::move(io), std::move(target)));
}

DirectMcpClient::DirectMcpClient(std::unique_ptr<Io> io, std::string target)
    : io_(std::move(io)), target_(std::move(target)) {}

DirectMcpClient::~DirectMcpClient() = default;

absl::Status DirectMcpClient::Initialize() {
  absl::StatusOr<std::string> answer =
      Post(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{)"
           R"("protocolVersion":"2025-06-18","capabilities":{},)"
           R"("clientInfo":{"name":"bench-direct","version":"1"}}})");
  if (!answer.ok()) return answer.status();
  if (session_id_.empty()) {
    return absl::UnavailableError("initialize gave no Mcp-Session-Id");
  }
  return Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})")
      .status();
}

absl::StatusOr<std::string> DirectMcpClient::Post(absl::string_view body) {
  http::request<http::string_body> request{http::verb::post, target_, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "application/json, text/event-stream");
  if (!session_id_.empty()) request.set("Mcp-Session-Id", session_id_);
  request.keep_alive(true);
  request.body() = std::string(body);
  request.prepare_payload();
  boost::system::error_code ec;
  http::write(io_->socket, request, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  http::response<http::string_body> response;
  http::read(io_->socket, io_->buffer, response, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
  if (response.result_int() / 100 != 2) {
    return absl::UnavailableError(
        absl::StrCat("HTTP ", response.result_int(), " for POST"));
  }
  auto id = response.find("Mcp-Session-Id");
  if (id != response.end() && session_id_.empty()) {
    session_id_ = std::string(id->value());
  }
  return std::move(response.body());
}

}  // namespace shadowcat
