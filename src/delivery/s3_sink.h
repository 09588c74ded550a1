// Objects into any S3-compatible store over HTTP: path-style addressing, AWS Signature Version 4
// (service s3, signed x-amz-content-sha256), multipart upload above a threshold, retries with
// backoff. libcurl does the HTTP.
#pragma once

#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "common/error.h"

namespace eddy::delivery {

struct S3Options {
  std::string endpoint;  // http://host:port
  aws::AwsCredentials credentials;
  std::string region = "us-east-1";
  size_t multipart_threshold = 8u << 20;  // objects larger than this go in parts
  size_t part_size = 8u << 20;            // S3's minimum is 5 MiB for all parts but the last
  int attempts = 5;
};

class S3Sink {
 public:
  explicit S3Sink(S3Options options);
  Status put(const std::string& bucket, const std::string& key, std::string_view bytes) const;
  // An object's bytes (reference data for applications).
  Result<std::string> get(const std::string& bucket, const std::string& key) const;

 private:
  struct Response {
    long status = 0;
    std::string body;
    std::string etag;
  };
  // One signed request, retried on network errors, 5xx and SlowDown.
  Result<Response> request(const std::string& method, const std::string& bucket, const std::string& key,
                           const std::string& query, std::string_view body) const;

  S3Options options_;
  std::string host_;  // host:port, as signed
};

// Encodes an object key for the path: every byte except A-Za-z0-9-_.~/ as %XX (S3's SigV4 rule).
std::string s3_encode_key(std::string_view key);

}  // namespace eddy::delivery
