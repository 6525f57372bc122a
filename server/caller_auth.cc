#include "server/caller_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/common/log.h"

namespace shadowcat {
namespace {

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest.data());
  return digest;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CallerAuth>> CallerAuth::Create(
    std::string token_file, absl::Duration reload_interval) {
  std::unique_ptr<CallerAuth> auth(new CallerAuth(std::move(token_file)));
  absl::Status loaded = auth->Reload();
  if (!loaded.ok()) return loaded;
  if (reload_interval > absl::ZeroDuration()) {
    auth->reloader_ = std::thread([self = auth.get(), reload_interval] {
      self->ReloadLoop(reload_interval);
    });
  }
  return auth;
}

CallerAuth::~CallerAuth() {
  stop_.Notify();
  if (reloader_.joinable()) reloader_.join();
}

void CallerAuth::ReloadLoop(absl::Duration interval) {
  // A tiny local file read once per interval, on this thread alone: a slow
  // or hung volume delays the next rotation, never a call.
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    if (absl::Status s = Reload(); !s.ok()) {
      SC_LOG(kWarning, "keeping the previous caller token: ", s.message());
    }
  }
}

absl::Status CallerAuth::Reload() {
  std::ifstream in(token_file_, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("grpc_token_file \"", token_file_, "\" cannot be read"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  const std::string file = contents.str();
  const absl::string_view token = absl::StripAsciiWhitespace(file);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("grpc_token_file \"", token_file_, "\" holds no token"));
  }
  Digest digest = Sha256(token);
  absl::MutexLock lock(&mu_);
  token_digest_ = digest;
  return absl::OkStatus();
}

absl::Status CallerAuth::Check(absl::string_view authorization) const {
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(authorization, kScheme)) {
    return absl::UnauthenticatedError(
        "this API needs \"authorization: Bearer <token>\" metadata");
  }
  const Digest presented = Sha256(authorization.substr(kScheme.size()));
  Digest expected;
  {
    absl::MutexLock lock(&mu_);
    expected = token_digest_;
  }
  if (CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError("the bearer token is not valid");
  }
  return absl::OkStatus();
}

}  // namespace shadowcat
