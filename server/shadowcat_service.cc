#include "server/shadowcat_service.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "server/call_stream_reactor.h"
#include "server/conversions.h"

namespace shadowcat {
namespace {

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The earlier of the gRPC deadline and the request's own timeout;
// InfiniteFuture if neither.
absl::Time CallDeadline(grpc::CallbackServerContext* context,
                        uint32_t timeout_ms) {
  absl::Time deadline = absl::InfiniteFuture();
  auto grpc_deadline = context->deadline();
  if (grpc_deadline != std::chrono::system_clock::time_point::max()) {
    deadline = absl::FromChrono(grpc_deadline);
  }
  if (timeout_ms > 0)
    deadline = std::min(deadline, absl::Now() + absl::Milliseconds(timeout_ms));
  return deadline;
}

absl::Status CheckMethod(const std::string& method) {
  if (method.empty()) return absl::InvalidArgumentError("method is required");
  if (!IsValidUtf8(method))
    return absl::InvalidArgumentError("method is not UTF-8");
  return absl::OkStatus();
}

// params must be a JSON object or array (JSON-RPC 2.0 section 4.2), or absent.
absl::Status CheckParams(const std::string& params_json,
                         ShadowcatMetrics& metrics) {
  if (params_json.empty()) return absl::OkStatus();
  absl::Status valid = ValidateJson(params_json);
  if (valid.ok()) {
    char first = params_json[params_json.find_first_not_of(" \t\r\n")];
    if (first == '{' || first == '[') return absl::OkStatus();
    valid = absl::InvalidArgumentError("must be a JSON object or array");
  }
  metrics.parse_errors_total(ParseErrorKind::kCallerJson).Increment();
  return absl::InvalidArgumentError(
      absl::StrCat("params_json: ", valid.message()));
}

// Trims surrounding whitespace so the raw JSON splices cleanly into the
// message.
std::string TrimJson(const std::string& json) {
  size_t begin = json.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = json.find_last_not_of(" \t\r\n");
  return json.substr(begin, end - begin + 1);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Session>> ShadowcatService::FindForMessage(
    const std::string& session_id, const std::string& method,
    const std::string& params_json) {
  if (absl::Status s = CheckMethod(method); !s.ok()) return s;
  if (absl::Status s = CheckParams(params_json, metrics_); !s.ok()) return s;
  return sessions_.Find(session_id);
}

grpc::ServerUnaryReactor* ShadowcatService::OpenSession(
    grpc::CallbackServerContext* context, const v1::OpenSessionRequest* request,
    v1::OpenSessionResponse* response) {
  if (request->upstream_url().empty()) {
    return FinishNow(context,
                     absl::InvalidArgumentError("upstream_url is required"));
  }
  OpenParams params;
  params.upstream_url = request->upstream_url();
  for (const auto& [name, value] : request->headers())
    params.headers.emplace_back(name, value);
  // Map order is unspecified; sort so every request of a session carries the
  // same order.
  std::sort(params.headers.begin(), params.headers.end());
  params.protocol_version = request->protocol_version();
  params.client_name = request->client_info().name();
  params.client_version = request->client_info().version();
  params.client_title = request->client_info().title();
  params.capabilities_json = TrimJson(request->capabilities_json());
  params.request_timeout =
      absl::Milliseconds(request->options().request_timeout_ms());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.Open(std::move(params), [reactor, response](
                                        absl::StatusOr<OpenResult> result) {
    if (result.ok()) {
      response->set_session_id(result->session_id);
      response->set_protocol_version(result->init.protocol_version);
      response->set_server_info_json(result->init.server_info_raw);
      response->set_server_capabilities_json(result->init.capabilities_raw);
      response->set_instructions(result->init.instructions);
    }
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::Call(
    grpc::CallbackServerContext* context, const v1::CallRequest* request,
    v1::CallResponse* response) {
  absl::StatusOr<std::shared_ptr<Session>> session = FindForMessage(
      request->session_id(), request->method(), request->params_json());
  if (!session.ok()) return FinishNow(context, session.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (*session)->Call(request->method(), TrimJson(request->params_json()),
                   CallDeadline(context, request->timeout_ms()), nullptr,
                   [reactor, response](absl::StatusOr<RpcResult> result) {
                     if (result.ok()) ToProto(*result, response);
                     reactor->Finish(ToGrpcStatus(result.status()));
                   });
  return reactor;
}

grpc::ServerWriteReactor<v1::CallStreamEvent>* ShadowcatService::CallStream(
    grpc::CallbackServerContext* context, const v1::CallRequest* request) {
  absl::StatusOr<std::shared_ptr<Session>> session = FindForMessage(
      request->session_id(), request->method(), request->params_json());
  auto reactor = CallStreamReactor::Create(metrics_);
  if (!session.ok()) {
    reactor->Close(session.status());
    return reactor.get();
  }
  std::shared_ptr<CallStreamReactor> sink = reactor;
  (*session)->Call(
      request->method(), TrimJson(request->params_json()),
      CallDeadline(context, request->timeout_ms()),
      [sink](UpstreamMessage message) {
        sink->PushMessage(std::move(message));
      },
      [sink](absl::StatusOr<RpcResult> result) {
        if (!result.ok()) {
          sink->Close(result.status());
          return;
        }
        sink->PushResponse(*result);
        sink->Close(absl::OkStatus());
      });
  return reactor.get();
}

grpc::ServerUnaryReactor* ShadowcatService::Notify(
    grpc::CallbackServerContext* context, const v1::NotifyRequest* request,
    v1::NotifyResponse*) {
  absl::StatusOr<std::shared_ptr<Session>> session = FindForMessage(
      request->session_id(), request->method(), request->params_json());
  if (!session.ok()) return FinishNow(context, session.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (*session)->Notify(request->method(), TrimJson(request->params_json()),
                     [reactor](absl::Status status) {
                       reactor->Finish(ToGrpcStatus(status));
                     });
  return reactor;
}

grpc::ServerWriteReactor<v1::ServerMessage>* ShadowcatService::Subscribe(
    grpc::CallbackServerContext*, const v1::SubscribeRequest*) {
  return FinishedWriteReactor<v1::ServerMessage>::Create(grpc::Status(
      grpc::StatusCode::UNIMPLEMENTED,
      "Subscribe (the standalone GET stream with Last-Event-ID resumption) is "
      "not implemented yet"));
}

grpc::ServerUnaryReactor* ShadowcatService::Respond(
    grpc::CallbackServerContext* context, const v1::RespondRequest* request,
    v1::RespondResponse*) {
  const std::string id = TrimJson(request->request_id_json());
  absl::Status valid = ValidateJson(id);
  if (!valid.ok() ||
      (id[0] != '"' && id[0] != '-' && (id[0] < '0' || id[0] > '9'))) {
    return FinishNow(context,
                     absl::InvalidArgumentError(
                         "request_id_json must be a JSON string or integer"));
  }
  std::string body;
  switch (request->outcome_case()) {
    case v1::RespondRequest::kResultJson: {
      const std::string result = TrimJson(request->result_json());
      if (absl::Status s = ValidateJson(result); !s.ok()) {
        metrics_.parse_errors_total(ParseErrorKind::kCallerJson).Increment();
        return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                      "result_json: ", s.message())));
      }
      body = BuildResultResponse(id, result);
      break;
    }
    case v1::RespondRequest::kError: {
      const std::string data = TrimJson(request->error().data_json());
      if (!data.empty()) {
        if (absl::Status s = ValidateJson(data); !s.ok()) {
          return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                        "error.data_json: ", s.message())));
        }
      }
      if (!IsValidUtf8(request->error().message())) {
        return FinishNow(
            context, absl::InvalidArgumentError("error.message is not UTF-8"));
      }
      body = BuildErrorResponse(id, request->error().code(),
                                request->error().message(), data);
      break;
    }
    case v1::RespondRequest::OUTCOME_NOT_SET:
      return FinishNow(context, absl::InvalidArgumentError(
                                    "result_json or error is required"));
  }
  absl::StatusOr<std::shared_ptr<Session>> session =
      sessions_.Find(request->session_id());
  if (!session.ok()) return FinishNow(context, session.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (*session)->SendResponse(std::move(body), [reactor](absl::Status status) {
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::Cancel(
    grpc::CallbackServerContext* context, const v1::CancelRequest*,
    v1::CancelResponse*) {
  return FinishNow(
      context, absl::UnimplementedError(
                   "Cancel is not implemented yet: set a deadline on the call, "
                   "which sends notifications/cancelled when it passes"));
}

grpc::ServerUnaryReactor* ShadowcatService::CloseSession(
    grpc::CallbackServerContext* context,
    const v1::CloseSessionRequest* request,
    v1::CloseSessionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.Close(request->session_id(),
                  [reactor, response](absl::StatusOr<bool> deleted) {
                    if (deleted.ok()) response->set_upstream_deleted(*deleted);
                    reactor->Finish(ToGrpcStatus(deleted.status()));
                  });
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::GetSession(
    grpc::CallbackServerContext* context, const v1::GetSessionRequest* request,
    v1::SessionInfo* response) {
  absl::StatusOr<std::shared_ptr<Session>> session =
      sessions_.Find(request->session_id());
  if (session.ok()) ToProto((*session)->Snapshot(), response);
  return FinishNow(context, session.status());
}

grpc::ServerUnaryReactor* ShadowcatService::ListSessions(
    grpc::CallbackServerContext* context, const v1::ListSessionsRequest*,
    v1::ListSessionsResponse* response) {
  for (const SessionSnapshot& snapshot : sessions_.List()) {
    ToProto(snapshot, response->add_sessions());
  }
  return FinishNow(context, absl::OkStatus());
}

}  // namespace shadowcat
