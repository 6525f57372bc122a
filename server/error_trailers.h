#ifndef SHADOWCAT_SERVER_ERROR_TRAILERS_H_
#define SHADOWCAT_SERVER_ERROR_TRAILERS_H_

// Adds the plain error trailers (conversions.h ErrorTrailers: HTTP status,
// retry-after, www-authenticate, JSON-RPC error) to every call that fails with
// upstream error details, whichever reactor finishes it. A server interceptor
// is the one place that sees every final status together with the trailing
// metadata, so no reactor needs to know about them.

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace shadowcat {

// For ServerBuilder::experimental().SetInterceptorCreators().
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ErrorTrailersInterceptorFactory();

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_ERROR_TRAILERS_H_
