#include "api/tls_certificate.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace eddy::api {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TlsCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-tls-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TlsCertificateTest, IsMadeOnceWithAPrivateKeyAndNamesTheHost) {
  auto files = self_signed_certificate(dir_ / "tls", "eddy.example");
  ASSERT_TRUE(files.has_value()) << files.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(files->key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  FILE* f = std::fopen(files->cert.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "eddy.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "other.example", 0, 0, nullptr), 1);
  X509_free(cert);
  // Kept: clients that trust it keep trusting it after a restart.
  const std::string before = slurp(files->cert);
  auto again = self_signed_certificate(dir_ / "tls", "eddy.example");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(slurp(again->cert), before);
}

TEST_F(TlsCertificateTest, AnAddressIsAnIpName) {
  auto files = self_signed_certificate(dir_ / "tls", "10.1.2.3");
  ASSERT_TRUE(files.has_value());
  FILE* f = std::fopen(files->cert.c_str(), "r");
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.1.2.3", 0), 1);
  X509_free(cert);
}

}  // namespace
}  // namespace eddy::api
