// AWS Signature Version 4: the canonical request, the string to sign and the signature, used by
// the server to verify requests and by eddy's own clients to sign them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/http_request.h"

namespace eddy::aws {

struct AwsCredentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else %XX.
std::string uri_encode(std::string_view s, bool keep_slash = false);
std::string uri_decode(std::string_view s);

// `headers`: lower-case names with their values (repeats allowed, joined with ','). `s3`: the
// path is encoded once (S3) instead of twice (every other service).
std::string canonical_request(std::string_view method, std::string_view raw_path, std::string_view raw_query,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::vector<std::string>& signed_headers, std::string_view payload_sha256_hex,
                              bool s3);
std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical);
std::string signature_hex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service, std::string_view string_to_sign);

// Adds X-Amz-Date, (X-Amz-Security-Token) and Authorization to `headers`, signing host,
// content-type and every x-amz-* header present. `headers` must contain "host".
void sign_request(std::string_view method, std::string_view raw_target,
                  std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
                  const AwsCredentials& creds, std::string_view region, std::string_view service, TimestampMs now);

// What a signature's credential scope must name: the server's region and the service the request
// goes to (any of `services` for eddy's own endpoints). Empty: not checked (unit tests of the math).
struct ExpectedScope {
  std::string region;
  std::vector<std::string> services;
};

// Server side: a request must carry a valid signature by one of the configured keys.
class SigV4Verifier {
 public:
  explicit SigV4Verifier(std::vector<AwsCredentials> keys, TimestampMs max_skew_ms = 5 * 60 * 1000)
      : keys_(std::move(keys)), max_skew_ms_(max_skew_ms) {}
  // Errors: kMissingAuthenticationToken, kIncompleteSignature (also: `host`, `x-amz-date` or a sent
  // `x-amz-target` left out of SignedHeaders), kUnrecognizedClient, kInvalidSignature (also: a scope
  // of another region or service than `expect`). On success returns the region signed for.
  Result<std::string> verify(const HttpRequest& request, TimestampMs now, const ExpectedScope& expect = {}) const;
  // `Authorization: Basic base64(ACCESS_KEY_ID:SECRET)` naming one of the keys: how a person's
  // browser (the dashboard) and Prometheus (basic_auth) reach eddy's GET endpoints. Compared in
  // constant time.
  bool verify_basic(std::string_view authorization) const;

 private:
  std::vector<AwsCredentials> keys_;
  TimestampMs max_skew_ms_;
};

// Reads a credentials file in the AWS CLI's INI form ([profile] aws_access_key_id = ...).
Result<std::vector<AwsCredentials>> load_credentials_file(const std::string& path);

// "20150830T123600Z" <-> ms
std::string format_amz_date(TimestampMs ms);
std::optional<TimestampMs> parse_amz_date(std::string_view s);

}  // namespace eddy::aws
