// HttpClient against https upstreams: a test PKI generated at run time and a
// local TLS server on 127.0.0.1:0. No network.

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "core/http/http_client.h"
#include "core/http/tls_context.h"
#include "core/http/url.h"
#include "gtest/gtest.h"
#include "server/http_server.h"
#include "tests/core/http/test_certs.h"
#include "tests/core/http/tls_test_server.h"

namespace shadowcat {
namespace {

namespace asio = boost::asio;

constexpr absl::Duration kWait = absl::Seconds(10);

struct Result {
  absl::Status status;
  int http_status = 0;
  std::string body;
};

// A client with its own io threads, trusting only `ca_pem` (not the system
// bundle, so no test depends on the machine's CAs).
class Client {
 public:
  explicit Client(const std::string& ca_pem, TlsOptions tls = {},
                  HttpClientOptions options = {}, bool system_cas = false)
      : guard_(asio::make_work_guard(ioc_)) {
    tls.use_system_ca = system_cas;
    if (!ca_pem.empty()) {
      tls.ca_file =
          WriteTempFile(absl::StrCat("ca-", Counter(), ".pem"), ca_pem);
    }
    absl::StatusOr<std::shared_ptr<TlsContext>> context =
        TlsContext::Create(tls);
    EXPECT_TRUE(context.ok()) << context.status();
    if (context.ok()) options.tls = *context;
    options.connect_timeout = absl::Seconds(5);
    options.read_timeout = absl::Seconds(5);
    client_ = std::make_unique<HttpClient>(ioc_, options);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  ~Client() {
    client_->Shutdown();
    guard_.reset();
    for (auto& t : threads_) t.join();
  }

  HttpClient& http() { return *client_; }

  Result Fetch(const std::string& method, const std::string& url_text) {
    Result result;
    absl::StatusOr<Url> url = ParseUrl(url_text);
    EXPECT_TRUE(url.ok()) << url.status();
    if (!url.ok()) return result;
    HttpRequest request;
    request.method = method;
    request.url = *url;
    if (method == "POST") request.body = "{}";
    auto shared = std::make_shared<Shared>();
    HttpHandlers handlers;
    handlers.on_head = [shared](const HttpResponseHead& head) {
      absl::MutexLock lock(&shared->mu);
      shared->result.http_status = head.status;
    };
    handlers.on_body = [shared](absl::string_view chunk) {
      absl::MutexLock lock(&shared->mu);
      shared->result.body.append(chunk.data(), chunk.size());
    };
    handlers.on_done = [shared](absl::Status status) {
      {
        absl::MutexLock lock(&shared->mu);
        shared->result.status = std::move(status);
      }
      shared->done.Notify();
    };
    auto exchange = client_->Start(ioc_.get_executor(), std::move(request),
                                   std::move(handlers));
    if (!shared->done.WaitForNotificationWithTimeout(kWait)) {
      ADD_FAILURE() << "no on_done within " << kWait << " for " << url_text;
      exchange->Cancel();
      shared->done.WaitForNotification();
    }
    absl::MutexLock lock(&shared->mu);
    Result out;
    out.http_status = shared->result.http_status;
    out.body = shared->result.body;
    // A fresh Status, not a copy: a copy shares its reference count with the
    // io thread's, and Debian's Abseil is not TSan-instrumented, so TSan would
    // not see that count order the io thread's final delete.
    out.status = absl::Status(shared->result.status.code(),
                              shared->result.status.message());
    return out;
  }

 private:
  struct Shared {
    absl::Mutex mu;
    Result result ABSL_GUARDED_BY(mu);
    absl::Notification done;
  };
  static int Counter() {
    static std::atomic<int> n{0};
    return ++n;
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::unique_ptr<HttpClient> client_;
  std::vector<std::thread> threads_;
};

LeafSpec LocalServer() {
  LeafSpec spec;
  spec.common_name = "localhost";
  spec.dns_names = {"localhost"};
  spec.ips = {"127.0.0.1"};
  return spec;
}

std::string HttpsUrl(const std::string& host, uint16_t port) {
  return absl::StrCat("https://", host, ":", port, "/mcp");
}

void ExpectUnavailableWith(const Result& result, absl::string_view text) {
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable)
      << result.status;
  EXPECT_TRUE(absl::StrContains(result.status.message(), text))
      << result.status << " lacks \"" << text << "\"";
}

TEST(HttpClientTlsTest, ValidChainSucceedsAndKeepAliveIsReused) {
  TestCa ca("test ca");
  TlsTestServer server({ca.Issue(LocalServer()), ""});
  Client client(ca.cert_pem());
  for (int i = 1; i <= 3; ++i) {
    Result r = client.Fetch(i == 2 ? "GET" : "POST",
                            HttpsUrl("127.0.0.1", server.port()));
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.http_status, 200);
    EXPECT_EQ(r.body, absl::StrCat("reply ", i));
  }
  EXPECT_EQ(client.http().idle_connections(), 1u);
  std::vector<TlsTestRequest> requests = server.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
  EXPECT_EQ(requests[1].connection_id, requests[2].connection_id);
  EXPECT_EQ(requests[0].target, "/mcp");
}

TEST(HttpClientTlsTest, DnsNameIsVerifiedToo) {
  TestCa ca("test ca");
  TlsTestServer server({ca.Issue(LocalServer()), ""});
  Client client(ca.cert_pem());
  Result r = client.Fetch("GET", HttpsUrl("localhost", server.port()));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body, "reply 1");
}

TEST(HttpClientTlsTest, WrongHostnameIsRefused) {
  TestCa ca("test ca");
  LeafSpec other;
  other.common_name = "other.example";
  other.dns_names = {"other.example"};
  TlsTestServer server({ca.Issue(other), ""});
  Client client(ca.cert_pem());
  for (const char* host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    Result r = client.Fetch("GET", HttpsUrl(host, server.port()));
    ExpectUnavailableWith(r, "tls handshake with https://");
    ExpectUnavailableWith(r, "failed: hostname mismatch");
  }
  EXPECT_TRUE(server.Requests().empty());
}

TEST(HttpClientTlsTest, IpLiteralNeedsAnIpAddressName) {
  // A DNS name that happens to read "127.0.0.1" is not an IP address SAN.
  TestCa ca("test ca");
  LeafSpec spec;
  spec.dns_names = {"127.0.0.1"};
  TlsTestServer server({ca.Issue(spec), ""});
  Client client(ca.cert_pem());
  ExpectUnavailableWith(
      client.Fetch("GET", HttpsUrl("127.0.0.1", server.port())),
      "hostname mismatch");
}

TEST(HttpClientTlsTest, UnknownCaIsRefused) {
  TestCa trusted("trusted ca");
  TestCa unknown("unknown ca");
  TlsTestServer server({unknown.Issue(LocalServer()), ""});
  Client client(trusted.cert_pem());
  Result r = client.Fetch("POST", HttpsUrl("127.0.0.1", server.port()));
  ExpectUnavailableWith(r, "failed: unknown issuer");
  EXPECT_TRUE(server.Requests().empty());
}

TEST(HttpClientTlsTest, ExpiredCertificateIsRefused) {
  TestCa ca("test ca");
  LeafSpec expired = LocalServer();
  expired.not_before = -2 * 24 * 3600;
  expired.not_after = -24 * 3600;
  TlsTestServer server({ca.Issue(expired), ""});
  Client client(ca.cert_pem());
  ExpectUnavailableWith(
      client.Fetch("GET", HttpsUrl("127.0.0.1", server.port())),
      "failed: certificate expired");
}

TEST(HttpClientTlsTest, PlainHttpToATlsPortFailsClearly) {
  TestCa ca("test ca");
  TlsTestServer server({ca.Issue(LocalServer()), ""});
  Client client(ca.cert_pem());
  const absl::Time start = absl::Now();
  Result r = client.Fetch(
      "POST", absl::StrCat("http://127.0.0.1:", server.port(), "/mcp"));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable) << r.status;
  EXPECT_TRUE(absl::StrContains(
      r.status.message(), absl::StrCat("http://127.0.0.1:", server.port())))
      << r.status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(4)) << "waited for a timeout";
}

TEST(HttpClientTlsTest, TlsToAPlainPortFailsClearly) {
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  auto plain = HttpServer::Start(
      ioc, "127.0.0.1", 0,
      [](HttpServerRequest, std::shared_ptr<HttpResponseWriter> writer) {
        writer->SendFull(200, {}, "plain");
      });
  ASSERT_TRUE(plain.ok()) << plain.status();
  std::thread thread([&ioc] { ioc.run(); });
  {
    TestCa ca("test ca");
    Client client(ca.cert_pem());
    const absl::Time start = absl::Now();
    Result r = client.Fetch("GET", HttpsUrl("127.0.0.1", (*plain)->port()));
    ExpectUnavailableWith(r, "tls handshake with https://127.0.0.1:");
    ExpectUnavailableWith(r, "does not speak TLS");
    EXPECT_LT(absl::Now() - start, absl::Seconds(4)) << "waited for a timeout";
  }
  (*plain)->Stop();
  work.reset();
  thread.join();
}

TEST(HttpClientTlsTest, MutualTls) {
  TestCa server_ca("server ca");
  TestCa client_ca("client ca");
  TlsTestServer server({server_ca.Issue(LocalServer()), client_ca.cert_pem()});
  {
    // Without a client certificate the server ends the handshake. Under TLS
    // 1.3 the client learns it only when reading the response.
    Client client(server_ca.cert_pem());
    Result r = client.Fetch("POST", HttpsUrl("127.0.0.1", server.port()));
    EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable) << r.status;
    EXPECT_TRUE(absl::StrContains(r.status.message(), "certificate required"))
        << r.status;
    EXPECT_TRUE(server.Requests().empty());
  }
  {
    LeafSpec spec;
    spec.common_name = "shadowcat";
    spec.client = true;
    KeyAndCert identity = client_ca.Issue(spec);
    TlsOptions tls;
    tls.client_cert_file = WriteTempFile("client.pem", identity.cert_pem);
    tls.client_key_file = WriteTempFile("client.key", identity.key_pem);
    Client client(server_ca.cert_pem(), tls);
    Result r = client.Fetch("POST", HttpsUrl("127.0.0.1", server.port()));
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.body, "reply 1");
  }
}

TEST(HttpClientTlsTest, CloseDelimitedBodyWithoutCloseNotifyIsRefused) {
  // Over TLS only a close_notify proves the server ended the body; a bare TCP
  // close could be anyone on the path cutting it short.
  TestCa ca("test ca");
  TlsTestServer server({ca.Issue(LocalServer()), "",
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                        "until close"});
  Client client(ca.cert_pem());
  Result r = client.Fetch("GET", HttpsUrl("127.0.0.1", server.port()));
  ExpectUnavailableWith(r, "closed without a tls close_notify");
}

TEST(HttpClientTlsTest, LengthDelimitedBodyIsFineWithoutCloseNotify) {
  // Most servers just close TCP; with a Content-Length that loses nothing.
  TestCa ca("test ca");
  TlsTestServer server(
      {ca.Issue(LocalServer()), "",
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"});
  Client client(ca.cert_pem());
  Result r = client.Fetch("GET", HttpsUrl("127.0.0.1", server.port()));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body, "ok");
}

TEST(HttpClientTlsTest, HttpAndHttpsAreDifferentPoolOrigins) {
  // One host:port answered over https, then the same host:port over http:
  // the pooled TLS connection must not be handed to the http exchange.
  TestCa ca("test ca");
  TlsTestServer server({ca.Issue(LocalServer()), ""});
  Client client(ca.cert_pem());
  ASSERT_TRUE(
      client.Fetch("GET", HttpsUrl("127.0.0.1", server.port())).status.ok());
  EXPECT_EQ(client.http().idle_connections(), 1u);
  Result r = client.Fetch(
      "GET", absl::StrCat("http://127.0.0.1:", server.port(), "/mcp"));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable) << r.status;
  EXPECT_EQ(server.Requests().size(), 1u);
}

// OpenSSL's name for `cert_pem` in a hashed CA directory: "5ad8a5d6.0".
std::string HashedName(const std::string& cert_pem) {
  BIO* bio =
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EXPECT_NE(cert, nullptr);
  if (cert == nullptr) return "";
  char name[32];
  std::snprintf(name, sizeof(name), "%08lx.0", X509_subject_name_hash(cert));
  X509_free(cert);
  return name;
}

// Sets an environment variable (or unsets it, for nullptr) for a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The system CAs come from the hashed directory when the system has one, so
// no bundle is parsed at start: a CA is found there, under its hash, when a
// handshake needs it, and one that is not there is still unknown.
TEST(TlsContextTest, SystemCasAreLookedUpInTheHashedDirectory) {
  TestCa ca("directory ca");
  TestCa other("other ca");
  TlsTestServer server({ca.Issue(LocalServer()), ""});
  const std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) / "hashed-cas";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / HashedName(other.cert_pem())) << other.cert_pem(); }
  ScopedEnv cert_dir("SSL_CERT_DIR", dir.c_str());
  ScopedEnv no_bundle("SSL_CERT_FILE", nullptr);
  {
    Client client("", {}, {}, /*system_cas=*/true);
    ExpectUnavailableWith(
        client.Fetch("GET", HttpsUrl("127.0.0.1", server.port())),
        "unknown issuer");
  }
  { std::ofstream(dir / HashedName(ca.cert_pem())) << ca.cert_pem(); }
  Client client("", {}, {}, /*system_cas=*/true);
  Result r = client.Fetch("GET", HttpsUrl("127.0.0.1", server.port()));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.http_status, 200);
}

TEST(TlsContextTest, ConfigurationErrorsAreFailedPrecondition) {
  TestCa ca("test ca");
  KeyAndCert leaf = ca.Issue(LocalServer());
  KeyAndCert other = ca.Issue(LocalServer());
  const std::string cert = WriteTempFile("leaf.pem", leaf.cert_pem);
  const std::string key = WriteTempFile("leaf.key", leaf.key_pem);
  const std::string other_key = WriteTempFile("other.key", other.key_pem);
  const std::string garbage = WriteTempFile("garbage.pem", "not a pem\n");
  const std::string missing = "/nonexistent/ca.pem";

  struct Case {
    const char* name;
    TlsOptions options;
    absl::StatusCode code;
    std::string text;
  };
  std::vector<Case> cases;
  cases.push_back({"missing ca",
                   {.ca_file = missing},
                   absl::StatusCode::kFailedPrecondition,
                   "CA file \"/nonexistent/ca.pem\": cannot read it"});
  cases.push_back({"garbage ca",
                   {.ca_file = garbage},
                   absl::StatusCode::kFailedPrecondition,
                   "CA file \""});
  cases.push_back({"cert without key",
                   {.client_cert_file = cert},
                   absl::StatusCode::kFailedPrecondition,
                   "both files"});
  cases.push_back({"key without cert",
                   {.client_key_file = key},
                   absl::StatusCode::kFailedPrecondition,
                   "both files"});
  cases.push_back({"missing key",
                   {.client_cert_file = cert, .client_key_file = missing},
                   absl::StatusCode::kFailedPrecondition,
                   "client key file \"/nonexistent/ca.pem\""});
  cases.push_back({"garbage cert",
                   {.client_cert_file = garbage, .client_key_file = key},
                   absl::StatusCode::kFailedPrecondition,
                   "client certificate file \""});
  cases.push_back({"mismatched key",
                   {.client_cert_file = cert, .client_key_file = other_key},
                   absl::StatusCode::kFailedPrecondition,
                   "does not match the client certificate"});
  cases.push_back({"bad version",
                   {.min_version = "1.1"},
                   absl::StatusCode::kInvalidArgument,
                   "min_version"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::shared_ptr<TlsContext>> context =
        TlsContext::Create(c.options);
    ASSERT_FALSE(context.ok());
    EXPECT_EQ(context.status().code(), c.code) << context.status();
    EXPECT_TRUE(absl::StrContains(context.status().message(), c.text))
        << context.status();
  }
  // And the good ones.
  EXPECT_TRUE(TlsContext::Create({}).ok());
  EXPECT_TRUE(TlsContext::Create({.min_version = "1.3"}).ok());
  EXPECT_TRUE(
      TlsContext::Create({.client_cert_file = cert, .client_key_file = key})
          .ok());
}

}  // namespace
}  // namespace shadowcat
