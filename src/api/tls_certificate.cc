#include "api/tls_certificate.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

namespace eddy::api {

namespace {

template <class T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, decltype([](T* p) { Free(p); })>;

Status openssl_error(const std::string& what) {
  return make_error(Errc::kIo, "cannot make a self-signed certificate: " + what);
}

// Writes through `write` into `path` (created with `mode`), replacing it whole.
template <class Write>
Status write_pem(const std::filesystem::path& path, mode_t mode, Write write) {
  const auto tmp = path.string() + ".tmp";
  const mode_t old = ::umask(0077 & ~mode);
  FILE* f = std::fopen(tmp.c_str(), "w");
  ::umask(old);
  if (!f) return make_error(Errc::kIo, "cannot write " + tmp);
  const bool ok = write(f) == 1;
  if (std::fclose(f) != 0 || !ok) return make_error(Errc::kIo, "cannot write " + tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error(Errc::kIo, "cannot write " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace

Result<TlsFiles> self_signed_certificate(const std::filesystem::path& dir, const std::string& host) {
  TlsFiles files{dir / "cert.pem", dir / "key.pem"};
  std::error_code ec;
  if (std::filesystem::exists(files.cert, ec) && std::filesystem::exists(files.key, ec)) return files;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dir.string() + ": " + ec.message());

  Owned<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
  if (!key) return tl::unexpected(openssl_error("key generation failed").error());
  Owned<X509, X509_free> cert(X509_new());
  if (!cert) return tl::unexpected(openssl_error("out of memory").error());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("eddy self-signed"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  // Clients check the name they connected to against the subject alternative names.
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (!host.empty() && host != "localhost" && host != "127.0.0.1" && host != "::1" && host != "0.0.0.0" &&
      host != "::") {
    const bool address = host.find_first_not_of("0123456789.:abcdefABCDEF") == std::string::npos &&
                         (host.find('.') != std::string::npos || host.find(':') != std::string::npos);
    san += (address ? ",IP:" : ",DNS:") + host;
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair{NID_subject_alt_name, san}, std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    Owned<X509_EXTENSION, X509_EXTENSION_free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return tl::unexpected(openssl_error("cannot add extension " + value).error());
    }
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return tl::unexpected(openssl_error("signing failed").error());
  }
  if (auto st =
          write_pem(files.key, 0600,
                    [&](FILE* f) { return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
      !st) {
    return tl::unexpected(st.error());
  }
  if (auto st = write_pem(files.cert, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()); }); !st) {
    return tl::unexpected(st.error());
  }
  return files;
}

}  // namespace eddy::api
