#ifndef SHADOWCAT_SERVER_SHADOWCAT_SERVICE_H_
#define SHADOWCAT_SERVER_SHADOWCAT_SERVICE_H_

// The gRPC API on the callback interface: thin adapters that validate, call
// core/session and convert. No handler blocks: each posts work to a session
// strand and finishes its reactor from the completion callback.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "core/config/config.h"
#include "core/metrics/shadowcat_metrics.h"
#include "core/session/session_manager.h"
#include "server/caller_auth.h"
#include "shadowcat/v1/shadowcat.grpc.pb.h"

namespace shadowcat {

class ShadowcatService final : public v1::Shadowcat::CallbackService {
 public:
  // REQUIRES: the references (and `auth`, which may be null: no token)
  // outlive the service and its calls.
  ShadowcatService(SessionManager& sessions, ShadowcatMetrics& metrics,
                   const Config& config, const CallerAuth* auth = nullptr)
      : sessions_(sessions), metrics_(metrics), config_(config), auth_(auth) {}

  // v1::Shadowcat::CallbackService:
  grpc::ServerUnaryReactor* OpenSession(
      grpc::CallbackServerContext* context,
      const v1::OpenSessionRequest* request,
      v1::OpenSessionResponse* response) override;
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context,
                                 const v1::CallRequest* request,
                                 v1::CallResponse* response) override;
  grpc::ServerWriteReactor<v1::CallStreamEvent>* CallStream(
      grpc::CallbackServerContext* context,
      const v1::CallRequest* request) override;
  grpc::ServerUnaryReactor* Notify(grpc::CallbackServerContext* context,
                                   const v1::NotifyRequest* request,
                                   v1::NotifyResponse* response) override;
  grpc::ServerWriteReactor<v1::ServerMessage>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context,
                                    const v1::RespondRequest* request,
                                    v1::RespondResponse* response) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const v1::CancelRequest* request,
                                   v1::CancelResponse* response) override;
  grpc::ServerUnaryReactor* CloseSession(
      grpc::CallbackServerContext* context,
      const v1::CloseSessionRequest* request,
      v1::CloseSessionResponse* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const v1::GetSessionRequest* request,
                                       v1::SessionInfo* response) override;
  grpc::ServerUnaryReactor* ListSessions(
      grpc::CallbackServerContext* context,
      const v1::ListSessionsRequest* request,
      v1::ListSessionsResponse* response) override;

 private:
  // OK without a token; else Unauthenticated unless the call's metadata
  // carries the bearer token.
  absl::Status Authorize(const grpc::CallbackServerContext& context) const;
  // Validates a message's method and params (InvalidArgument) and finds its
  // session.
  absl::StatusOr<std::shared_ptr<Session>> FindForMessage(
      const std::string& session_id, const std::string& method,
      const std::string& params_json);
  // Validates a Call/CallStream request and builds the session call, with a
  // handle (the backend's or a fresh "sc-N").
  absl::StatusOr<std::pair<std::shared_ptr<Session>, CallParams>> PrepareCall(
      grpc::CallbackServerContext* context, const v1::CallRequest& request,
      bool stream_messages);

  SessionManager& sessions_;
  ShadowcatMetrics& metrics_;
  const Config& config_;
  const CallerAuth* const auth_;
  std::atomic<uint64_t> next_handle_{1};
};

}  // namespace shadowcat

#endif  // SHADOWCAT_SERVER_SHADOWCAT_SERVICE_H_
