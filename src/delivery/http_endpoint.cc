#include "delivery/http_endpoint.h"

#include <curl/curl.h>

#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/json_limits.h"
#include "delivery/gzip.h"

namespace eddy::delivery {
namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<std::string*>(user);
  if (s->size() < (1u << 20)) s->append(data, size * n);  // responses are at most 1 MiB
  return size * n;
}

}  // namespace

HttpDeliveryResult deliver_http(const HttpEndpointConfig& config, const std::string& source_arn,
                                const std::string& request_id, const std::vector<std::string>& records,
                                const Clock& clock, const std::function<bool()>& cancelled) {
  static const bool init = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)init;
  nlohmann::json body = {
      {"requestId", request_id}, {"timestamp", clock.now_ms()}, {"records", nlohmann::json::array()}};
  for (const auto& r : records) body["records"].push_back({{"data", base64_encode(r)}});
  std::string payload = body.dump();
  if (config.gzip) payload = gzip(payload);

  HttpDeliveryResult result;
  const auto start = std::chrono::steady_clock::now();
  std::mt19937 rng(std::random_device{}());
  double backoff_s = 1.0;
  while (true) {
    ++result.attempts;
    CURL* curl = curl_easy_init();
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "X-Amz-Firehose-Protocol-Version: 1.0");
    headers = curl_slist_append(headers, ("X-Amz-Firehose-Request-Id: " + request_id).c_str());
    headers = curl_slist_append(headers, ("X-Amz-Firehose-Source-Arn: " + source_arn).c_str());
    if (!config.access_key.empty())
      headers = curl_slist_append(headers, ("X-Amz-Firehose-Access-Key: " + config.access_key).c_str());
    if (!config.common_attributes_json.empty()) {
      headers =
          curl_slist_append(headers, ("X-Amz-Firehose-Common-Attributes: " + config.common_attributes_json).c_str());
    }
    if (config.gzip) headers = curl_slist_append(headers, "Content-Encoding: gzip");
    headers = curl_slist_append(headers, "Expect:");
    std::string response;
    long status = 0;
    curl_easy_setopt(curl, CURLOPT_URL, config.url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 180L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are not followed
    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
      result.error_code = "HttpEndpoint.RequestTimeout";
      result.error_message = std::string("The endpoint could not be reached: ") + curl_easy_strerror(rc);
    } else if (status == 200) {
      // A 200 counts only with the same request id in a JSON body; anything else is a 500.
      try {
        if (!json_nesting_within(response)) throw std::runtime_error("nested too deep");
        const auto j = nlohmann::json::parse(response);
        if (j.value("requestId", "") == request_id) {
          result.delivered = true;
          return result;
        }
        result.error_code = "HttpEndpoint.InvalidResponseFromDestination";
        result.error_message = "The response's requestId does not match the request's";
      } catch (const std::exception&) {
        result.error_code = "HttpEndpoint.InvalidResponseFromDestination";
        result.error_message = "The response is not JSON";
      }
    } else {
      result.error_code = "HttpEndpoint.DestinationException";
      std::string message;
      try {
        if (json_nesting_within(response)) message = nlohmann::json::parse(response).value("errorMessage", "");
      } catch (const std::exception&) {
      }
      result.error_message =
          "The endpoint answered " + std::to_string(status) + (message.empty() ? "" : ": " + message);
      if (status == 413) return result;  // payload too large: final
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double jitter = 1.0 + (std::uniform_real_distribution<double>(-0.15, 0.15)(rng));
    const double wait = std::min(backoff_s * jitter, 120.0);
    if (elapsed + wait > config.retry_seconds || cancelled()) return result;
    for (double waited = 0; waited < wait && !cancelled(); waited += 0.05) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff_s *= 2;
  }
}

}  // namespace eddy::delivery
