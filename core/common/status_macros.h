#ifndef SHADOWCAT_CORE_COMMON_STATUS_MACROS_H_
#define SHADOWCAT_CORE_COMMON_STATUS_MACROS_H_

// Abseil 20220623 ships no status macros; these are the two the codebase needs.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SC_STATUS_CONCAT_INNER_(a, b) a##b
#define SC_STATUS_CONCAT_(a, b) SC_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define SC_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status sc_status_ = (expr);      \
    if (!sc_status_.ok()) return sc_status_; \
  } while (0)

// `SC_ASSIGN_OR_RETURN(auto x, Foo());` assigns the value of an absl::StatusOr
// or returns its error from the enclosing function.
#define SC_ASSIGN_OR_RETURN(lhs, expr)                                      \
  SC_ASSIGN_OR_RETURN_IMPL_(SC_STATUS_CONCAT_(sc_statusor_, __LINE__), lhs, \
                            expr)

#define SC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = *std::move(statusor)

#endif  // SHADOWCAT_CORE_COMMON_STATUS_MACROS_H_
