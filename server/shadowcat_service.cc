#include "server/shadowcat_service.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/jsonrpc/json_scan.h"
#include "core/jsonrpc/jsonrpc_message.h"
#include "server/call_reactor.h"
#include "server/conversions.h"
#include "server/stream_reactor.h"
#include "server/trace_context.h"

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

// W3C Trace Context from the call's metadata; a repeated traceparent is
// invalid, repeated tracestate entries form one list.
HeaderList TraceHeaders(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto parents = metadata.equal_range("traceparent");
  if (parents.first == parents.second ||
      std::next(parents.first) != parents.second) {
    return {};
  }
  std::string tracestate;
  auto states = metadata.equal_range("tracestate");
  for (auto it = states.first; it != states.second; ++it) {
    absl::StrAppend(&tracestate, tracestate.empty() ? "" : ",",
                    absl::string_view(it->second.data(), it->second.size()));
  }
  const grpc::string_ref& traceparent = parents.first->second;
  return TraceContextHeaders(
      absl::string_view(traceparent.data(), traceparent.size()), tracestate);
}

absl::Status CheckMethod(const std::string& method) {
  if (method.empty()) return absl::InvalidArgumentError("method is required");
  if (!IsValidUtf8(method))
    return absl::InvalidArgumentError("method is not UTF-8");
  if (method == "initialize") {
    return absl::InvalidArgumentError(
        "initialize is sent by OpenSession; a session is initialized once");
  }
  return absl::OkStatus();
}

// A backend-chosen call handle: visible ASCII (it shows up in GetSession and
// logs), bounded, and outside the "sc-" names Shadowcat assigns itself.
absl::Status CheckRequestHandle(const std::string& handle) {
  if (handle.size() > 128) {
    return absl::InvalidArgumentError("request_id is longer than 128 bytes");
  }
  for (char c : handle) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "request_id must be visible ASCII characters");
    }
  }
  if (absl::StartsWith(handle, "sc-") || handle == "initialize") {
    return absl::InvalidArgumentError(
        "request_id must not start with \"sc-\" (Shadowcat's own handles)");
  }
  return absl::OkStatus();
}

// A JSON-RPC id as JSON: a string, or an integer (JSON-RPC ids are never
// fractions, MCP's never null).
bool IsJsonRpcId(const std::string& id) {
  if (id.empty()) return false;
  if (id[0] == '"') return ValidateJson(id).ok();
  size_t digits = id[0] == '-' ? 1 : 0;
  if (digits == id.size()) return false;
  if (id[digits] == '0' && id.size() > digits + 1) return false;
  return std::all_of(id.begin() + digits, id.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
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

absl::Status ShadowcatService::Authorize(
    const grpc::CallbackServerContext& context) const {
  if (auth_ == nullptr) return absl::OkStatus();
  auto header = context.client_metadata().find("authorization");
  if (header == context.client_metadata().end()) return auth_->Check("");
  return auth_->Check(
      absl::string_view(header->second.data(), header->second.size()));
}

absl::StatusOr<std::pair<std::shared_ptr<Session>, CallParams>>
ShadowcatService::PrepareCall(grpc::CallbackServerContext* context,
                              const v1::CallRequest& request,
                              bool stream_messages) {
  if (absl::Status s = Authorize(*context); !s.ok()) return s;
  if (absl::Status s = CheckRequestHandle(request.request_id()); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<Session>> session = FindForMessage(
      request.session_id(), request.method(), request.params_json());
  if (!session.ok()) return session.status();
  CallParams params;
  params.method = request.method();
  params.params_raw = TrimJson(request.params_json());
  params.deadline = CallDeadline(context, request.timeout_ms());
  // Assigned here, not on the session's strand, so a cancel that races the
  // call's start still names it.
  params.handle = request.request_id().empty()
                      ? absl::StrCat("sc-", next_handle_.fetch_add(1))
                      : request.request_id();
  params.stream_messages = stream_messages;
  params.trace_headers = TraceHeaders(*context);
  return std::make_pair(*std::move(session), std::move(params));
}

namespace {

// CN-01: a backend that gives up cancels upstream too.
std::function<void(const std::string&)> CancelUpstream(
    std::weak_ptr<Session> weak) {
  return [weak](const std::string& handle) {
    if (auto session = weak.lock(); session != nullptr && !handle.empty()) {
      session->Cancel(handle, "the client cancelled the call",
                      [](absl::Status) {});
    }
  };
}

}  // namespace

grpc::ServerUnaryReactor* ShadowcatService::OpenSession(
    grpc::CallbackServerContext* context, const v1::OpenSessionRequest* request,
    v1::OpenSessionResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok())
    return FinishNow(context, s);
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
  params.open_server_stream = request->options().open_server_stream();
  params.trace_headers = TraceHeaders(*context);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.Open(std::move(params), [reactor, response](
                                        absl::StatusOr<OpenResult> result) {
    if (result.ok()) {
      response->set_session_id(result->session_id);
      response->set_protocol_version(result->init.protocol_version);
      response->set_server_info_json(result->init.server_info_raw);
      response->set_server_capabilities_json(result->init.capabilities_raw);
      response->set_instructions(result->init.instructions);
      response->set_transport(ToProto(result->init.transport));
      response->set_era(ToProto(result->init.era));
    }
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::Call(
    grpc::CallbackServerContext* context, const v1::CallRequest* request,
    v1::CallResponse* response) {
  auto prepared = PrepareCall(context, *request, /*stream_messages=*/false);
  if (!prepared.ok()) return FinishNow(context, prepared.status());
  auto& [session, params] = *prepared;
  auto reactor = CallReactor::Create(response, CancelUpstream(session));
  session->Call(std::move(params), reactor);
  return reactor.get();
}

grpc::ServerWriteReactor<v1::CallStreamEvent>* ShadowcatService::CallStream(
    grpc::CallbackServerContext* context, const v1::CallRequest* request) {
  auto prepared = PrepareCall(context, *request, /*stream_messages=*/true);
  if (!prepared.ok()) {
    auto reactor = CallStreamReactor::Create(metrics_, 0);
    reactor->Finish(prepared.status());
    return reactor.get();
  }
  auto& [session, params] = *prepared;
  StreamReactorHooks hooks;
  hooks.on_cancel = CancelUpstream(session);
  auto reactor = CallStreamReactor::Create(metrics_, config_.stream_queue_bytes,
                                           std::move(hooks));
  session->Call(std::move(params), reactor);
  return reactor.get();
}

grpc::ServerUnaryReactor* ShadowcatService::Notify(
    grpc::CallbackServerContext* context, const v1::NotifyRequest* request,
    v1::NotifyResponse*) {
  if (absl::Status s = Authorize(*context); !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<std::shared_ptr<Session>> session = FindForMessage(
      request->session_id(), request->method(), request->params_json());
  if (!session.ok()) return FinishNow(context, session.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (*session)->Notify(
      request->method(), TrimJson(request->params_json()),
      [reactor](absl::Status status) { reactor->Finish(ToGrpcStatus(status)); },
      TraceHeaders(*context));
  return reactor;
}

grpc::ServerWriteReactor<v1::ServerMessage>* ShadowcatService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  absl::Status authorized = Authorize(*context);
  absl::StatusOr<std::shared_ptr<Session>> session =
      authorized.ok() ? sessions_.Find(request->session_id()) : authorized;
  if (!session.ok()) {
    auto reactor = SubscribeReactor::Create(metrics_, 0);
    reactor->Finish(session.status());
    return reactor.get();
  }
  // The session holds its subscribers; one whose client left is removed at
  // once rather than at the next message, which may never come.
  auto self = std::make_shared<const EventSink*>(nullptr);
  StreamReactorHooks hooks;
  hooks.on_done = [weak = std::weak_ptr<Session>(*session), self] {
    if (auto s = weak.lock()) s->Unsubscribe(*self);
  };
  auto reactor = SubscribeReactor::Create(metrics_, config_.stream_queue_bytes,
                                          std::move(hooks));
  *self = reactor.get();
  std::optional<uint64_t> after;
  if (request->has_after_sequence()) after = request->after_sequence();
  (*session)->Subscribe(after, reactor);
  return reactor.get();
}

grpc::ServerUnaryReactor* ShadowcatService::Respond(
    grpc::CallbackServerContext* context, const v1::RespondRequest* request,
    v1::RespondResponse*) {
  if (absl::Status s = Authorize(*context); !s.ok())
    return FinishNow(context, s);
  const std::string id = TrimJson(request->request_id_json());
  if (!IsJsonRpcId(id)) {
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
  (*session)->Respond(id, std::move(body), [reactor](absl::Status status) {
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::Cancel(
    grpc::CallbackServerContext* context, const v1::CancelRequest* request,
    v1::CancelResponse*) {
  if (absl::Status s = Authorize(*context); !s.ok())
    return FinishNow(context, s);
  if (request->request_id().empty()) {
    return FinishNow(context,
                     absl::InvalidArgumentError("request_id is required"));
  }
  if (!IsValidUtf8(request->reason())) {
    return FinishNow(context,
                     absl::InvalidArgumentError("reason is not UTF-8"));
  }
  absl::StatusOr<std::shared_ptr<Session>> session =
      sessions_.Find(request->session_id());
  if (!session.ok()) return FinishNow(context, session.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (*session)->Cancel(request->request_id(), request->reason(),
                     [reactor](absl::Status status) {
                       reactor->Finish(ToGrpcStatus(status));
                     });
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::CloseSession(
    grpc::CallbackServerContext* context,
    const v1::CloseSessionRequest* request,
    v1::CloseSessionResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok())
    return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.Close(
      request->session_id(),
      [reactor, response](absl::StatusOr<bool> deleted) {
        if (deleted.ok()) response->set_upstream_deleted(*deleted);
        reactor->Finish(ToGrpcStatus(deleted.status()));
      },
      TraceHeaders(*context));
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::GetSession(
    grpc::CallbackServerContext* context, const v1::GetSessionRequest* request,
    v1::SessionInfo* response) {
  if (absl::Status s = Authorize(*context); !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<std::shared_ptr<Session>> session =
      sessions_.Find(request->session_id());
  if (!session.ok()) return FinishNow(context, session.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  (*session)->Describe([reactor, response](SessionSnapshot snapshot) {
    ToProto(snapshot, response);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ShadowcatService::ListSessions(
    grpc::CallbackServerContext* context, const v1::ListSessionsRequest*,
    v1::ListSessionsResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok())
    return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  sessions_.List([reactor, response](std::vector<SessionSnapshot> snapshots) {
    for (const SessionSnapshot& snapshot : snapshots) {
      ToProto(snapshot, response->add_sessions());
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace shadowcat
