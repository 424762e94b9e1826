#include "tests/support/certs.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace crawl::test {
namespace {

struct FreeKey {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct FreeCert {
  void operator()(X509* c) const noexcept { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, FreeKey>;
using CertPtr = std::unique_ptr<X509, FreeCert>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("making a test certificate: ") + what + " failed");
}

// P-256 keys: made in a millisecond, where RSA would take a noticeable part of a test.
KeyPtr make_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

CertPtr make_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                  std::chrono::seconds not_before, std::chrono::seconds not_after, long serial) {
  CertPtr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(not_before.count()));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(not_after.count()));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert.get();
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer) {
    add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid");
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  return cert;
}

void write_pem(const std::string& path, const std::vector<X509*>& certs, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "fopen");
  bool ok = true;
  for (X509* c : certs) ok = ok && PEM_write_X509(f, c) == 1;
  if (key) ok = ok && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = std::fclose(f) == 0 && ok;
  check(ok, "writing PEM");
}

}  // namespace

struct TestCa::Keys {
  KeyPtr key;
  CertPtr cert;
  long next_serial = 2;
};

TestCa::TestCa(const std::string& dir, const std::string& name) : dir_(dir), keys_(std::make_unique<Keys>()) {
  keys_->key = make_key();
  keys_->cert = make_cert(keys_->key.get(), name + " test CA", nullptr, -std::chrono::hours(1),
                          std::chrono::hours(24 * 365), 1);
  check(X509_sign(keys_->cert.get(), keys_->key.get(), EVP_sha256()) > 0, "X509_sign");
  ca_file_ = dir_ + "/" + name + "-ca.pem";
  write_pem(ca_file_, {keys_->cert.get()}, nullptr);
}

TestCa::~TestCa() = default;

std::string TestCa::hashed_dir() const {
  const std::string dir = ca_file_.substr(0, ca_file_.size() - std::string("-ca.pem").size()) + "-capath";
  std::filesystem::create_directories(dir);
  char name[16];
  std::snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(keys_->cert.get()));
  write_pem(dir + "/" + name, {keys_->cert.get()}, nullptr);
  return dir;
}

TestCa::Leaf TestCa::issue(const std::string& file_stem, const LeafOptions& options) {
  KeyPtr key = make_key();
  const std::string common_name = options.dns_names.empty() ? "test server" : options.dns_names.front();
  CertPtr cert = make_cert(key.get(), common_name, keys_->cert.get(), options.not_before, options.not_after,
                           keys_->next_serial++);
  std::string names;
  for (const auto& n : options.dns_names) names += (names.empty() ? "DNS:" : ",DNS:") + n;
  for (const auto& ip : options.ip_addresses) names += (names.empty() ? "IP:" : ",IP:") + ip;
  if (!names.empty()) add_extension(cert.get(), keys_->cert.get(), NID_subject_alt_name, names);
  check(X509_sign(cert.get(), keys_->key.get(), EVP_sha256()) > 0, "X509_sign");
  Leaf leaf{.cert_file = dir_ + "/" + file_stem + ".pem", .key_file = dir_ + "/" + file_stem + ".key"};
  write_pem(leaf.cert_file, {cert.get(), keys_->cert.get()}, nullptr);
  write_pem(leaf.key_file, {}, key.get());
  return leaf;
}

}  // namespace crawl::test
