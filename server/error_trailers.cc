#include "server/error_trailers.h"

#include <map>
#include <string>

#include "server/conversions.h"

namespace shadowcat {
namespace {

namespace experimental = grpc::experimental;

class ErrorTrailersInterceptor : public experimental::Interceptor {
 public:
  // experimental::Interceptor:
  void Intercept(experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      std::multimap<std::string, std::string>* trailers =
          methods->GetSendTrailingMetadata();
      if (trailers != nullptr) {
        for (auto& [key, value] : ErrorTrailers(methods->GetSendStatus())) {
          trailers->emplace(std::move(key), std::move(value));
        }
      }
    }
    methods->Proceed();
  }
};

class ErrorTrailersFactory
    : public experimental::ServerInterceptorFactoryInterface {
 public:
  // experimental::ServerInterceptorFactoryInterface:
  experimental::Interceptor* CreateServerInterceptor(
      experimental::ServerRpcInfo*) override {
    return new ErrorTrailersInterceptor();  // gRPC owns and deletes it
  }
};

}  // namespace

std::unique_ptr<experimental::ServerInterceptorFactoryInterface>
ErrorTrailersInterceptorFactory() {
  return std::make_unique<ErrorTrailersFactory>();
}

}  // namespace shadowcat
