#include "server/startup_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shadowcat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(StartupPolicyTest, BareInvocationRunsTheDemoLoudly) {
  absl::StatusOr<UpstreamPlan> plan = PlanUpstreams(true, true, false);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->demo_upstream);
  EXPECT_TRUE(plan->implicit_demo);
}

TEST(StartupPolicyTest, ConfiguredRunWithoutAllowlistIsAnError) {
  absl::StatusOr<UpstreamPlan> plan = PlanUpstreams(false, true, false);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("--allowed_upstreams"));
  EXPECT_THAT(plan.status().message(), HasSubstr("--demo_upstream"));
}

TEST(StartupPolicyTest, DemoOnlyWhenAskedOnceConfigured) {
  absl::StatusOr<UpstreamPlan> demo = PlanUpstreams(false, true, true);
  ASSERT_TRUE(demo.ok());
  EXPECT_TRUE(demo->demo_upstream);
  EXPECT_FALSE(demo->implicit_demo);

  absl::StatusOr<UpstreamPlan> production = PlanUpstreams(false, false, false);
  ASSERT_TRUE(production.ok());
  EXPECT_FALSE(production->demo_upstream);
}

TEST(StartupPolicyTest, UnknownVariablesAreNamed) {
  std::vector<std::string> variables = ShadowcatVariables(
      {"PATH=/bin", "SHADOWCAT_MAX_SESSIONS=5", "SHADOWCAT_MAX_SESION=5",
       "SHADOWCAT_ALLOWED_UPSTREAMS=http://a", "XSHADOWCAT_A=1",
       "SHADOWCAT_EMPTY="});
  EXPECT_THAT(variables,
              ElementsAre("SHADOWCAT_MAX_SESSIONS", "SHADOWCAT_MAX_SESION",
                          "SHADOWCAT_ALLOWED_UPSTREAMS", "SHADOWCAT_EMPTY"));
  EXPECT_THAT(UnknownShadowcatVariables(variables,
                                        {"max_sessions", "allowed_upstreams"}),
              ElementsAre("SHADOWCAT_EMPTY", "SHADOWCAT_MAX_SESION"));
}

}  // namespace
}  // namespace shadowcat
