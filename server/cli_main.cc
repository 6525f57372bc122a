// shadowcat-cli: a small client for Shadowcat's gRPC API (grpcurl is not
// packaged for Debian). Each command is one RPC, except `demo`, which walks a
// whole session.

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "shadowcat/v1/shadowcat.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Shadowcat's gRPC address.");
ABSL_FLAG(std::vector<std::string>, header, {},
          "For open: extra upstream headers as Name=Value, comma-separated.");
ABSL_FLAG(int, timeout_ms, 30000, "Deadline of each RPC.");

namespace {

using shadowcat::v1::Shadowcat;
namespace v1 = shadowcat::v1;

constexpr char kUsage[] =
    "shadowcat-cli [--target=HOST:PORT] COMMAND ARGS\n"
    "  open URL                         open a session; prints its id\n"
    "  call SESSION METHOD [PARAMS]     send a request, print the result JSON\n"
    "  stream SESSION METHOD [PARAMS]   like call, printing progress and logs "
    "as they come\n"
    "  notify SESSION METHOD [PARAMS]   send a notification\n"
    "  cancel SESSION REQUEST_ID        cancel a call in flight (the id "
    "`stream` printed)\n"
    "  subscribe SESSION [AFTER_SEQ]    print server messages until "
    "interrupted or --timeout_ms\n"
    "  close SESSION                    close a session (DELETE upstream)\n"
    "  get SESSION | list               describe sessions\n"
    "  demo URL                         open, tools/list, call echo, close";

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  return context;
}

int Fail(const grpc::Status& status) {
  std::cerr << "error: " << status.error_code() << " " << status.error_message()
            << "\n";
  return 1;
}

int PrintCallResponse(const v1::CallResponse& response) {
  if (response.has_error()) {
    std::cout << "JSON-RPC error " << response.error().code() << ": "
              << response.error().message() << "\n";
    if (!response.error().data_json().empty())
      std::cout << response.error().data_json() << "\n";
    return 3;
  }
  std::cout << response.result_json() << "\n";
  return 0;
}

int Open(Shadowcat::Stub& stub, const std::string& url,
         std::string* session_id) {
  v1::OpenSessionRequest request;
  request.set_upstream_url(url);
  request.mutable_client_info()->set_name("shadowcat-cli");
  for (const std::string& header : absl::GetFlag(FLAGS_header)) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(header, absl::MaxSplits('=', 1));
    (*request.mutable_headers())[kv.first] = kv.second;
  }
  v1::OpenSessionResponse response;
  grpc::Status status = stub.OpenSession(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cerr << "opened session (protocol " << response.protocol_version()
            << ", server " << response.server_info_json() << ")\n";
  *session_id = response.session_id();
  return 0;
}

int Call(Shadowcat::Stub& stub, const std::string& session,
         const std::string& method, const std::string& params) {
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method(method);
  request.set_params_json(params);
  v1::CallResponse response;
  grpc::Status status = stub.Call(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  return PrintCallResponse(response);
}

int Stream(Shadowcat::Stub& stub, const std::string& session,
           const std::string& method, const std::string& params) {
  v1::CallRequest request;
  request.set_session_id(session);
  request.set_method(method);
  request.set_params_json(params);
  auto context = Context();
  auto reader = stub.CallStream(context.get(), request);
  v1::CallStreamEvent event;
  int rc = 0;
  while (reader->Read(&event)) {
    if (event.has_started()) {
      std::cout << "started " << event.started().request_id() << "\n";
    } else if (event.has_message()) {
      std::cout << "<- " << event.message().message_json() << "\n";
    } else {
      rc = PrintCallResponse(event.response());
    }
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? rc : Fail(status);
}

int Close(Shadowcat::Stub& stub, const std::string& session) {
  v1::CloseSessionRequest request;
  request.set_session_id(session);
  v1::CloseSessionResponse response;
  grpc::Status status = stub.CloseSession(Context().get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << "closed (upstream DELETE "
            << (response.upstream_deleted() ? "confirmed" : "not confirmed")
            << ")\n";
  return 0;
}

void PrintInfo(const v1::SessionInfo& info) {
  std::cout << info.session_id() << "  " << info.upstream_url() << "  "
            << info.protocol_version() << "  "
            << v1::SessionState_Name(info.state())
            << "  requests=" << info.requests_total()
            << " in_flight=" << info.requests_in_flight() << "  "
            << v1::ServerStreamStatus_Name(info.server_stream()) << "\n";
  for (const v1::StreamInfo& stream : info.streams()) {
    std::cout << "  " << v1::StreamKind_Name(stream.kind()) << " "
              << v1::StreamState_Name(stream.state()) << " "
              << stream.request_id()
              << " last_event_id=" << stream.last_event_id()
              << " reconnects=" << stream.reconnects()
              << " events=" << stream.events()
              << (stream.paused() ? " paused" : "") << "\n";
  }
}

int Subscribe(Shadowcat::Stub& stub, const std::string& session,
              const std::string& after) {
  v1::SubscribeRequest request;
  request.set_session_id(session);
  if (!after.empty()) {
    uint64_t sequence = 0;
    if (!absl::SimpleAtoi(after, &sequence)) {
      std::cerr << "AFTER_SEQ must be a number\n";
      return 2;
    }
    request.set_after_sequence(sequence);
  }
  auto context = Context();
  auto reader = stub.Subscribe(context.get(), request);
  v1::ServerMessage message;
  while (reader->Read(&message)) {
    std::cout << message.sequence() << " <- " << message.message_json()
              << std::endl;
  }
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return 0;
  return status.ok() ? 0 : Fail(status);
}

int Demo(Shadowcat::Stub& stub, const std::string& url) {
  std::string session;
  if (int rc = Open(stub, url, &session); rc != 0) return rc;
  std::cout << "session " << session << "\n\n$ tools/list\n";
  int rc = Call(stub, session, "tools/list", "");
  if (rc == 0) {
    std::cout << "\n$ tools/call echo\n";
    rc = Call(stub, session, "tools/call",
              R"({"name":"echo","arguments":{"text":"hello from shadowcat"}})");
  }
  std::cout << "\n";
  int close_rc = Close(stub, session);
  return rc != 0 ? rc : close_rc;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  auto arg = [&](size_t i) {
    return i < args.size() ? std::string(args[i]) : std::string();
  };
  auto stub = Shadowcat::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials()));
  const std::string command = arg(1);
  if (command == "open" && args.size() == 3) {
    std::string session;
    int rc = Open(*stub, arg(2), &session);
    if (rc == 0) std::cout << session << "\n";
    return rc;
  }
  if (command == "call" && (args.size() == 4 || args.size() == 5)) {
    return Call(*stub, arg(2), arg(3), arg(4));
  }
  if (command == "stream" && (args.size() == 4 || args.size() == 5)) {
    return Stream(*stub, arg(2), arg(3), arg(4));
  }
  if (command == "notify" && (args.size() == 4 || args.size() == 5)) {
    v1::NotifyRequest request;
    request.set_session_id(arg(2));
    request.set_method(arg(3));
    request.set_params_json(arg(4));
    v1::NotifyResponse response;
    grpc::Status status = stub->Notify(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    std::cout << "accepted\n";
    return 0;
  }
  if (command == "cancel" && args.size() == 4) {
    v1::CancelRequest request;
    request.set_session_id(arg(2));
    request.set_request_id(arg(3));
    v1::CancelResponse response;
    grpc::Status status = stub->Cancel(Context().get(), request, &response);
    if (!status.ok()) return Fail(status);
    std::cout << "cancelled\n";
    return 0;
  }
  if (command == "subscribe" && (args.size() == 3 || args.size() == 4)) {
    return Subscribe(*stub, arg(2), arg(3));
  }
  if (command == "close" && args.size() == 3) return Close(*stub, arg(2));
  if (command == "get" && args.size() == 3) {
    v1::GetSessionRequest request;
    request.set_session_id(arg(2));
    v1::SessionInfo info;
    grpc::Status status = stub->GetSession(Context().get(), request, &info);
    if (!status.ok()) return Fail(status);
    PrintInfo(info);
    return 0;
  }
  if (command == "list" && args.size() == 2) {
    v1::ListSessionsResponse response;
    grpc::Status status = stub->ListSessions(Context().get(), {}, &response);
    if (!status.ok()) return Fail(status);
    for (const auto& info : response.sessions()) PrintInfo(info);
    return 0;
  }
  if (command == "demo" && args.size() == 3) return Demo(*stub, arg(2));
  std::cerr << kUsage << "\n";
  return 2;
}
