#include "core/http/beast_status.h"

#include "absl/strings/str_cat.h"
#include "boost/asio/error.hpp"
#include "boost/beast/core/error.hpp"
#include "boost/beast/http/error.hpp"

namespace shadowcat {

absl::Status ErrorCodeToStatus(const boost::system::error_code& ec,
                               absl::string_view context) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  if (!ec) return absl::OkStatus();
  std::string message = absl::StrCat(context, ": ", ec.message());
  if (ec == asio::error::operation_aborted)
    return absl::CancelledError(message);
  if (ec == asio::error::timed_out || ec == beast::error::timeout) {
    return absl::DeadlineExceededError(message);
  }
  if (ec == http::error::header_limit || ec == http::error::body_limit ||
      ec == http::error::buffer_overflow) {
    return absl::ResourceExhaustedError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace shadowcat
