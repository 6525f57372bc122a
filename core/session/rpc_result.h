#ifndef SHADOWCAT_CORE_SESSION_RPC_RESULT_H_
#define SHADOWCAT_CORE_SESSION_RPC_RESULT_H_

#include <cstdint>
#include <string>

namespace shadowcat {

// What an upstream answered to one JSON-RPC request: the raw `result`, or a
// JSON-RPC error (from a response, or from an HTTP error's body, SH-07).
struct RpcResult {
  bool is_error = false;
  std::string result_raw;
  int64_t error_code = 0;
  std::string error_message;
  std::string error_data_raw;
};

}  // namespace shadowcat

#endif  // SHADOWCAT_CORE_SESSION_RPC_RESULT_H_
