#include "api/tls_transport.h"

#include <curl/curl.h>

#include <cstdlib>

namespace eddy::api {
namespace {

size_t on_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

TlsTransport::TlsTransport() {
  static const bool init = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  if (init) curl_ = curl_easy_init();
}

TlsTransport::~TlsTransport() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<TlsResponse> TlsTransport::exchange(bool post, const std::string& url,
                                           const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view body) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (!curl) return make_error(Errc::kIo, "cannot start libcurl for " + url);
  curl_easy_reset(curl);
  curl_slist* list = nullptr;
  for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  TlsResponse res;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (post) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (const char* ca = std::getenv("AWS_CA_BUNDLE"); ca && *ca) curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    return make_error(Errc::kIo,
                      "request to " + url + " failed: " + curl_easy_strerror(rc) +
                          (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
                               ? " (pass --ca-bundle FILE or set AWS_CA_BUNDLE to the CA certificate that signed the "
                                 "server's; for eddy serve --tls-self-signed, the cert.pem it printed)"
                               : ""));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  res.status = static_cast<int>(status);
  return res;
}

}  // namespace eddy::api
