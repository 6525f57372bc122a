// W3C Trace Context across the sidecar: traceparent/tracestate sent as gRPC
// metadata on Call, CallStream and Notify reach the upstream on that call's
// HTTP request, and only on that call's; malformed ones are dropped.

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
    auto upstream = FakeMcpServer::Start();
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

}  // namespace
}  // namespace shadowcat
