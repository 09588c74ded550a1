#include "delivery/s3_sink.h"

#include <curl/curl.h>

#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/digest.h"

namespace eddy::delivery {
namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  if (line.size() > 5 && (line.substr(0, 5) == "ETag:" || line.substr(0, 5) == "etag:")) {
    auto v = line.substr(5);
    while (!v.empty() && (v.front() == ' ')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    *static_cast<std::string*>(user) = std::string(v);
  }
  return size * n;
}

std::string xml_value(const std::string& xml, const std::string& tag) {
  const auto open = "<" + tag + ">";
  const size_t a = xml.find(open);
  if (a == std::string::npos) return "";
  const size_t b = xml.find("</" + tag + ">", a);
  return b == std::string::npos ? "" : xml.substr(a + open.size(), b - a - open.size());
}

}  // namespace

std::string s3_encode_key(std::string_view key) {
  return aws::uri_encode(key, /*keep_slash=*/true);
}

S3Sink::S3Sink(S3Options options) : options_(std::move(options)) {
  static const bool init = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)init;
  std::string_view e = options_.endpoint;
  if (e.starts_with("http://")) e.remove_prefix(7);
  if (e.starts_with("https://")) e.remove_prefix(8);
  if (const size_t slash = e.find('/'); slash != std::string_view::npos) e = e.substr(0, slash);
  host_ = std::string(e);
}

Result<S3Sink::Response> S3Sink::request(const std::string& method, const std::string& bucket, const std::string& key,
                                         const std::string& query, std::string_view body) const {
  const std::string path = "/" + bucket + (key.empty() ? "" : "/" + s3_encode_key(key));
  const std::string target = path + (query.empty() ? "" : "?" + query);
  std::string why;
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(200 << std::min(attempt, 4)));
    std::vector<std::pair<std::string, std::string>> headers = {
        {"host", host_},
        {"content-type", key.empty() || query.starts_with("upload") ? "application/xml" : "application/octet-stream"},
        {"x-amz-content-sha256", to_hex(sha256(body))}};
    aws::sign_request(method, target, headers, body, options_.credentials, options_.region, "s3",
                      SystemClock::instance().now_ms());
    CURL* curl = curl_easy_init();
    if (!curl) return make_error(Errc::kInternal, "curl_easy_init failed");
    curl_slist* list = nullptr;
    for (const auto& [k, v] : headers) {
      if (k != "host") list = curl_slist_append(list, (k + ": " + v).c_str());
    }
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    Response res;
    const std::string url = options_.endpoint + target;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (method == "GET" || method == "HEAD" || method == "DELETE") curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &res.etag);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 180L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
      why = std::string("cannot reach ") + options_.endpoint + ": " + curl_easy_strerror(rc);
      continue;
    }
    if (res.status >= 200 && res.status < 300) return res;
    why = "S3 answered " + std::to_string(res.status) + " " + xml_value(res.body, "Code") + ": " +
          xml_value(res.body, "Message");
    if (res.status < 500 && xml_value(res.body, "Code") != "SlowDown") break;  // a client error will not improve
  }
  return make_error(Errc::kIo, method + " " + target + ": " + why);
}

Status S3Sink::put(const std::string& bucket, const std::string& key, std::string_view bytes) const {
  if (bytes.size() <= options_.multipart_threshold) {
    auto r = request("PUT", bucket, key, "", bytes);
    if (!r) return tl::unexpected(r.error());
    return {};
  }
  auto created = request("POST", bucket, key, "uploads", "");
  if (!created) return tl::unexpected(created.error());
  const std::string upload = xml_value(created->body, "UploadId");
  if (upload.empty()) return make_error(Errc::kIo, "CreateMultipartUpload for " + key + " returned no UploadId");
  const std::string upload_q = "uploadId=" + aws::uri_encode(upload);
  std::string complete = "<CompleteMultipartUpload>";
  int part = 1;
  for (size_t off = 0; off < bytes.size(); off += options_.part_size, ++part) {
    auto r = request("PUT", bucket, key, "partNumber=" + std::to_string(part) + "&" + upload_q,
                     bytes.substr(off, std::min(options_.part_size, bytes.size() - off)));
    if (!r) {
      (void)request("DELETE", bucket, key, upload_q, "");
      return tl::unexpected(r.error());
    }
    complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + r->etag + "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  auto done = request("POST", bucket, key, upload_q, complete);
  if (!done) {
    (void)request("DELETE", bucket, key, upload_q, "");
    return tl::unexpected(done.error());
  }
  return {};
}

Result<std::string> S3Sink::get(const std::string& bucket, const std::string& key) const {
  auto r = request("GET", bucket, key, "", "");
  if (!r) return tl::unexpected(r.error());
  return std::move(r->body);
}

}  // namespace eddy::delivery
