#include "core/session/protocol_version.h"

#include "gtest/gtest.h"

namespace shadowcat {
namespace {

TEST(ProtocolVersionTest, VN01_OffersTheNewestSessionEraVersion) {
  EXPECT_EQ(kLatestProtocolVersion, "2025-11-25");
  EXPECT_TRUE(CheckOfferedVersion(kLatestProtocolVersion).ok());
}

TEST(ProtocolVersionTest, VN02_AcceptsEverySessionEraVersion) {
  for (const char* v : {"2025-11-25", "2025-06-18", "2025-03-26"}) {
    EXPECT_TRUE(CheckNegotiatedVersion(v).ok()) << v;
  }
}

TEST(ProtocolVersionTest, VN03_RefusesOthersAsFailedPrecondition) {
  for (const char* v : {"2024-11-05", "2099-01-01", "", "2025-11-25 "}) {
    EXPECT_EQ(CheckNegotiatedVersion(v).code(),
              absl::StatusCode::kFailedPrecondition)
        << v;
    EXPECT_EQ(CheckOfferedVersion(v).code(), absl::StatusCode::kInvalidArgument)
        << v;
  }
}

TEST(ProtocolVersionTest, VN10_TheModernRevisionMayBeOfferedButIsNoSessionEraAnswer) {
  EXPECT_TRUE(CheckOfferedVersion("2026-07-28").ok());
  // initialize answering 2026-07-28 would be a server mixing the eras.
  EXPECT_EQ(CheckNegotiatedVersion("2026-07-28").code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shadowcat
