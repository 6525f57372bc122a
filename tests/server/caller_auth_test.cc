// The caller token (server/caller_auth): its own reload thread picks up a
// rotated file, keeps the last good token when the file is emptied, and stops
// at once on destruction; Check() compares digests only.

#include "server/caller_auth.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/core/http/test_certs.h"

namespace shadowcat {
namespace {

// Replaces a file the way a Secret update does: write aside, then rename.
void ReplaceFile(const std::string& path, const std::string& contents) {
  const std::string tmp = WriteTempFile("replacement.tmp", contents);
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

// Polls until `auth` accepts `header` or 10 s pass.
bool EventuallyAccepted(const CallerAuth& auth, const std::string& header) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (absl::Now() < give_up) {
    if (auth.Check(header).ok()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

TEST(CallerAuthTest, ReloadThreadPicksUpARotatedToken) {
  const std::string file = WriteTempFile("token", "first\n");
  auto auth = CallerAuth::Create(file, absl::Milliseconds(20));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->Check("Bearer first").ok());
  ReplaceFile(file, "second");
  // Nobody calls Reload(): only the reload thread can make this pass.
  EXPECT_TRUE(EventuallyAccepted(**auth, "Bearer second"));
  EXPECT_EQ((*auth)->Check("Bearer first").code(),
            absl::StatusCode::kUnauthenticated);
  // An emptied file keeps the last good token: wait for a few reloads.
  ReplaceFile(file, "  \n");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE((*auth)->Check("Bearer second").ok());
}

TEST(CallerAuthTest, WithoutIntervalOnlyReloadRereads) {
  const std::string file = WriteTempFile("token", "first");
  auto auth = CallerAuth::Create(file);
  ASSERT_TRUE(auth.ok()) << auth.status();
  ReplaceFile(file, "second");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE((*auth)->Check("Bearer first").ok());
  ASSERT_TRUE((*auth)->Reload().ok());
  EXPECT_TRUE((*auth)->Check("Bearer second").ok());
}

TEST(CallerAuthTest, DestructionDoesNotWaitForTheNextReload) {
  // With an hour between reloads, a destructor that slept out the interval
  // would hang this test until its timeout.
  auto auth = CallerAuth::Create(WriteTempFile("token", "t"), absl::Hours(1));
  ASSERT_TRUE(auth.ok()) << auth.status();
  auth->reset();
}

TEST(CallerAuthTest, StartUpRefusesMissingOrEmptyFiles) {
  EXPECT_EQ(CallerAuth::Create("/nonexistent/token").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CallerAuth::Create(WriteTempFile("empty", "\n")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shadowcat
