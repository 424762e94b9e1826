// Certificates made for one test: a CA of its own and server certificates it signs, written as PEM
// files, so that tests verify TLS as users do (the crawl trusts the CA with --cacert) without
// touching the system's trust store.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace crawl::test {

class TestCa {
 public:
  // Makes a CA key and self-signed certificate named `name`, written to DIR/NAME-ca.pem.
  TestCa(const std::string& dir, const std::string& name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& ca_file() const { return ca_file_; }
  // A directory holding the CA certificate under its subject hash (what `openssl rehash` makes), for
  // --capath: DIR/NAME-capath.
  std::string hashed_dir() const;

  struct Leaf {
    std::string cert_file;  // the leaf, then the CA (a chain a server sends)
    std::string key_file;
  };
  struct LeafOptions {
    std::vector<std::string> dns_names = {"localhost"};
    std::vector<std::string> ip_addresses = {"127.0.0.1"};
    // Validity, from now: by default from an hour ago to 30 days ahead.
    std::chrono::seconds not_before = -std::chrono::hours(1);
    std::chrono::seconds not_after = std::chrono::hours(24 * 30);
  };
  // A server certificate signed by this CA, written to DIR/FILE_STEM.pem and DIR/FILE_STEM.key.
  Leaf issue(const std::string& file_stem, const LeafOptions& options);

 private:
  struct Keys;
  std::string dir_;
  std::string ca_file_;
  std::unique_ptr<Keys> keys_;
};

}  // namespace crawl::test
