// Fuzz target: the Authorization header parser and verifier (SigV4 with and without an expected
// scope, HTTP Basic) with arbitrary header values.
#include <cstddef>
#include <cstdint>
#include <string>

#include "aws/sigv4.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const eddy::aws::SigV4Verifier verifier({{"AKIDEXAMPLE", "secret", ""}});
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\n');
  eddy::HttpRequest req;
  req.method = "POST";
  req.target = "/?a=b&c";
  req.headers = {{"host", "127.0.0.1:4567"},
                 {"authorization", input.substr(0, split)},
                 {"x-amz-date", split == std::string::npos ? "" : input.substr(split + 1, 16)}};
  (void)verifier.verify(req, 1'440'938'160'000);
  (void)verifier.verify(req, 1'440'938'160'000, {"us-east-1", {"kinesis", "firehose"}});
  (void)verifier.verify_basic(input);
  return 0;
}
