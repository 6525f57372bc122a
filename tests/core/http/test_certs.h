#ifndef SHADOWCAT_TESTS_CORE_HTTP_TEST_CERTS_H_
#define SHADOWCAT_TESTS_CORE_HTTP_TEST_CERTS_H_

// Test PKI generated at run time with OpenSSL's C API: no committed keys, no
// certificates that expire under a test suite a year later. ECDSA P-256, so
// generation takes milliseconds.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace shadowcat {

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

struct LeafSpec {
  std::string common_name = "test";
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::vector<std::string> ips;        // subjectAltName IP entries
  // Validity relative to now, in seconds.
  long not_before = -3600;
  long not_after = 24 * 3600;
  bool client = false;  // extendedKeyUsage clientAuth instead of serverAuth
};

class TestCa {
 public:
  // A self-signed CA named `name`. Aborts the test binary on an OpenSSL
  // failure (a broken test environment, not a test result).
  explicit TestCa(const std::string& name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return cert_pem_; }
  KeyAndCert Issue(const LeafSpec& spec);

 private:
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string cert_pem_;
  long serial_ = 1;
};

// Writes `contents` to a new file under TEST_TMPDIR and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& contents);

}  // namespace shadowcat

#endif  // SHADOWCAT_TESTS_CORE_HTTP_TEST_CERTS_H_
