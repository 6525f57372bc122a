#include "tests/integration/test_env.h"

#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"

namespace shadowcat {

TestShadowcat StartShadowcat(std::vector<std::string> allowed, Config config,
                             ServerOptions options) {
  config.grpc_listen = "127.0.0.1:0";
  config.admin_listen = "127.0.0.1:0";
  config.allowed_upstreams = std::move(allowed);
  config.io_threads = 2;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config, options);
  EXPECT_TRUE(server.ok()) << server.status();
  TestShadowcat t;
  if (!server.ok()) return t;
  t.server = *std::move(server);
  t.stub = v1::Shadowcat::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", t.server->grpc_port()), grpc::InsecureChannelCredentials()));
  return t;
}

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::StatusOr<std::string> HttpGet(uint16_t port, const std::string& path) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return absl::UnavailableError(ec.message());
  http::request<http::empty_body> request(http::verb::get, path, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request, ec);
  if (ec) return absl::UnavailableError(ec.message());
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, ec);
  if (ec) return absl::UnavailableError(ec.message());
  return absl::StrCat(response.result_int(), " ", response.body());
}

double MetricValue(const std::string& exposition, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      double value = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) return value;
    }
  }
  return -1;
}

}  // namespace shadowcat
