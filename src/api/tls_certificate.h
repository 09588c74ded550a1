// A self-signed certificate for `eddy serve --tls-self-signed`: made once and kept under the data
// directory, so clients that trust it keep trusting it across restarts.
#pragma once

#include <filesystem>
#include <string>

#include "common/error.h"

namespace eddy::api {

struct TlsFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// `dir`/cert.pem and `dir`/key.pem: read if both exist, else made (an ECDSA P-256 key and a
// certificate valid for 10 years for localhost, 127.0.0.1, ::1 and `host` when it is another
// name or address). The key file is readable by its owner only.
Result<TlsFiles> self_signed_certificate(const std::filesystem::path& dir, const std::string& host);

}  // namespace eddy::api
