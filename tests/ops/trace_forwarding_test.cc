// W3C Trace Context across the sidecar: traceparent/tracestate sent as gRPC
// metadata on Call, CallStream and Notify reach the upstream on that call's
// HTTP requests (its POST, the GETs that resume its stream, its
// notifications/cancelled), and only on that call's; OpenSession's reach
// initialize, notifications/initialized and the GET stream opened with the
// session; CloseSession's reach the DELETE; malformed ones are dropped.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_mcp_server.h"
#include "tests/integration/test_env.h"

namespace shadowcat {
namespace {

constexpr char kTraceparent[] =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kTracestate[] = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

class TraceForwardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeMcpServerOptions options;
    options.standalone_get.enabled = true;  // only for open_server_stream
    auto upstream = FakeMcpServer::Start(options);
    ASSERT_TRUE(upstream.ok()) << upstream.status();
    upstream_ = *std::move(upstream);
    shadowcat_ = StartShadowcat({upstream_->url()});
    ASSERT_NE(shadowcat_.server, nullptr);
    v1::OpenSessionRequest open;
    open.set_upstream_url(upstream_->url());
    v1::OpenSessionResponse opened;
    grpc::Status status =
        shadowcat_.stub->OpenSession(Ctx().get(), open, &opened);
    ASSERT_TRUE(status.ok()) << status.error_message();
    session_id_ = opened.session_id();
    // Claimed here, so the tests' Next() sees only their own requests.
    ASSERT_TRUE(upstream_->WaitForRpc("initialize", nullptr));
    ASSERT_TRUE(upstream_->WaitForRpc("notifications/initialized", nullptr));
  }

  std::unique_ptr<grpc::ClientContext> TracedCtx(const std::string& parent,
                                                 const std::string& state) {
    std::unique_ptr<grpc::ClientContext> context = Ctx();
    if (!parent.empty()) context->AddMetadata("traceparent", parent);
    if (!state.empty()) context->AddMetadata("tracestate", state);
    return context;
  }

  v1::CallRequest ToolsList() {
    v1::CallRequest call;
    call.set_session_id(session_id_);
    call.set_method("tools/list");
    return call;
  }

  // The next upstream request for `rpc_method`.
  RecordedRequest Next(const std::string& rpc_method) {
    RecordedRequest seen;
    EXPECT_TRUE(upstream_->WaitForRpc(rpc_method, &seen));
    return seen;
  }

  std::unique_ptr<FakeMcpServer> upstream_;
  TestShadowcat shadowcat_;
  std::string session_id_;
};

TEST_F(TraceForwardingTest, CallForwardsTraceContextToItsOwnRequestOnly) {
  v1::CallResponse response;
  ASSERT_TRUE(shadowcat_.stub
                  ->Call(TracedCtx(kTraceparent, kTracestate).get(),
                         ToolsList(), &response)
                  .ok());
  RecordedRequest traced = Next("tools/list");
  EXPECT_EQ(traced.Header("traceparent"), kTraceparent);
  EXPECT_EQ(traced.Header("tracestate"), kTracestate);

  ASSERT_TRUE(shadowcat_.stub->Call(Ctx().get(), ToolsList(), &response).ok());
  RecordedRequest untraced = Next("tools/list");
  EXPECT_EQ(untraced.Header("traceparent"), "");
  EXPECT_EQ(untraced.Header("tracestate"), "");
}

TEST_F(TraceForwardingTest, CallStreamAndNotifyForwardIt) {
  auto context = TracedCtx(kTraceparent, "");
  auto reader = shadowcat_.stub->CallStream(context.get(), ToolsList());
  v1::CallStreamEvent event;
  while (reader->Read(&event)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  RecordedRequest streamed = Next("tools/list");
  EXPECT_EQ(streamed.Header("traceparent"), kTraceparent);
  EXPECT_EQ(streamed.Header("tracestate"), "");

  v1::NotifyRequest notify;
  notify.set_session_id(session_id_);
  notify.set_method("notifications/roots/list_changed");
  v1::NotifyResponse notified;
  ASSERT_TRUE(shadowcat_.stub
                  ->Notify(TracedCtx(kTraceparent, kTracestate).get(), notify,
                           &notified)
                  .ok());
  RecordedRequest notification = Next("notifications/roots/list_changed");
  EXPECT_EQ(notification.Header("traceparent"), kTraceparent);
  EXPECT_EQ(notification.Header("tracestate"), kTracestate);
}

TEST_F(TraceForwardingTest, MalformedTraceContextIsDropped) {
  v1::CallResponse response;
  // Upper-case hex is invalid; its tracestate goes with it.
  ASSERT_TRUE(shadowcat_.stub
                  ->Call(TracedCtx("00-4BF92F3577B34DA6A3CE929D0E0E4736-"
                                   "00F067AA0BA902B7-01",
                                   kTracestate)
                             .get(),
                         ToolsList(), &response)
                  .ok());
  RecordedRequest seen = Next("tools/list");
  EXPECT_EQ(seen.Header("traceparent"), "");
  EXPECT_EQ(seen.Header("tracestate"), "");
  // A valid traceparent keeps going when only tracestate is malformed.
  ASSERT_TRUE(shadowcat_.stub
                  ->Call(TracedCtx(kTraceparent, "Bad Key=1").get(),
                         ToolsList(), &response)
                  .ok());
  seen = Next("tools/list");
  EXPECT_EQ(seen.Header("traceparent"), kTraceparent);
  EXPECT_EQ(seen.Header("tracestate"), "");
}

// RZ-02: the GET that resumes a call's dropped SSE stream continues that call,
// so it carries the call's trace context (and a later untraced call's resume
// carries none).
TEST_F(TraceForwardingTest, ResumeGetCarriesTheCallsTraceContext) {
  for (const bool traced : {true, false}) {
    ScriptedReply reply;
    reply.event_ids = true;
    reply.retry_ms = 10;
    reply.messages_before = {
        R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":1}})",
        R"({"jsonrpc":"2.0","method":"notifications/message","params":{"data":2}})"};
    reply.drop_after_events = 1;
    upstream_->ScriptReply("tools/list", reply);
    v1::CallResponse response;
    auto context = traced ? TracedCtx(kTraceparent, kTracestate) : Ctx();
    grpc::Status status =
        shadowcat_.stub->Call(context.get(), ToolsList(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(Next("tools/list").Header("traceparent"),
              traced ? kTraceparent : "");
    RecordedRequest resume = Next("GET");
    EXPECT_NE(resume.Header("Last-Event-ID"), "");
    EXPECT_EQ(resume.Header("traceparent"), traced ? kTraceparent : "");
    EXPECT_EQ(resume.Header("tracestate"), traced ? kTracestate : "");
  }
}

// CN-01: the notifications/cancelled sent for a call belongs to that call's
// trace, whoever asked for the cancellation (here an untraced Cancel).
TEST_F(TraceForwardingTest, CancelledNotificationCarriesTheCallsContext) {
  ScriptedReply held;
  held.sse = true;
  held.hold = "never";
  upstream_->ScriptReply("tools/list", held);
  v1::CallRequest request = ToolsList();
  request.set_request_id("traced-1");
  auto context = TracedCtx(kTraceparent, "");
  auto reader = shadowcat_.stub->CallStream(context.get(), request);
  v1::CallStreamEvent event;
  ASSERT_TRUE(reader->Read(&event));  // started
  Next("tools/list");
  v1::CancelRequest cancel;
  cancel.set_session_id(session_id_);
  cancel.set_request_id("traced-1");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(shadowcat_.stub->Cancel(Ctx().get(), cancel, &cancelled).ok());
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  RecordedRequest notice = Next("notifications/cancelled");
  EXPECT_EQ(notice.Header("traceparent"), kTraceparent);
}

// Shadowcat's own requests carry the trace context of the RPC that caused
// them: OpenSession's on initialize, notifications/initialized and the GET
// stream opened with the session (SS-04); CloseSession's on the DELETE
// (SM-07). Calls in between carry only their own.
TEST_F(TraceForwardingTest, SessionLifecycleRequestsCarryTheirRpcsContext) {
  constexpr char kOpenParent[] =
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  v1::OpenSessionRequest open;
  open.set_upstream_url(upstream_->url());
  open.mutable_options()->set_open_server_stream(true);
  v1::OpenSessionResponse opened;
  grpc::Status status = shadowcat_.stub->OpenSession(
      TracedCtx(kOpenParent, kTracestate).get(), open, &opened);
  ASSERT_TRUE(status.ok()) << status.error_message();
  RecordedRequest init = Next("initialize");
  EXPECT_EQ(init.Header("traceparent"), kOpenParent);
  EXPECT_EQ(init.Header("tracestate"), kTracestate);
  EXPECT_EQ(Next("notifications/initialized").Header("traceparent"),
            kOpenParent);
  ASSERT_TRUE(upstream_->WaitForGetStreamOpen());
  RecordedRequest get = Next("GET");
  EXPECT_EQ(get.Header("Last-Event-ID"), "");
  EXPECT_EQ(get.Header("traceparent"), kOpenParent);

  v1::CallRequest call = ToolsList();
  call.set_session_id(opened.session_id());
  v1::CallResponse response;
  ASSERT_TRUE(shadowcat_.stub->Call(Ctx().get(), call, &response).ok());
  EXPECT_EQ(Next("tools/list").Header("traceparent"), "");

  v1::CloseSessionRequest close;
  close.set_session_id(opened.session_id());
  v1::CloseSessionResponse closed;
  ASSERT_TRUE(
      shadowcat_.stub
          ->CloseSession(TracedCtx(kTraceparent, "").get(), close, &closed)
          .ok());
  EXPECT_TRUE(closed.upstream_deleted());
  EXPECT_EQ(Next("DELETE").Header("traceparent"), kTraceparent);
}

}  // namespace
}  // namespace shadowcat
