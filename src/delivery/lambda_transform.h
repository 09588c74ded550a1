// Firehose's Lambda processor without AWS: the LambdaArn names where the function runs.
//   python:/path/handler.py[#handler]  a Python file written for Lambda, run by eddy's runner
//   exec:<command line>                 any program: the event JSON on stdin, the response on stdout
//   http://host:port/path               a function behind HTTP: the event POSTed, the response in the body
//   arn:aws:lambda:...:function:NAME    looked up in `eddy serve --lambda NAME=<one of the above>`
// The event and response are Firehose's record-transformation contract (firehose.md §5).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace eddy::delivery {

struct TransformInput {
  std::string record_id;
  TimestampMs arrival_ms;
  std::string data;
};

struct TransformOutcome {
  enum class Result { kOk, kDropped, kFailed } result = Result::kFailed;
  std::string data;           // kOk: the transformed bytes
  std::map<std::string, std::string> partition_keys;  // kOk: metadata.partitionKeys (dynamic partitioning)
  std::string error_code;     // kFailed
  std::string error_message;  // kFailed
};

class LambdaTransform {
 public:
  // Resolves `arn` (through `functions` for Lambda ARNs); InvalidArgument if it names nothing runnable.
  static Result<LambdaTransform> create(const std::string& arn, const std::map<std::string, std::string>& functions,
                                        const std::string& runner_path, int retries, int timeout_ms);

  // One outcome per input, in order. An invocation that fails every retry (exit status, timeout,
  // an answer that is not the contract) fails every record with Lambda.FunctionError.
  std::vector<TransformOutcome> invoke(const std::string& delivery_arn, const std::vector<TransformInput>& records) const;

  const std::string& arn() const { return arn_; }

 private:
  std::string arn_;
  std::string command_;  // run with /bin/sh -c
  std::string url_;      // or POSTed to
  int retries_ = 3;
  int timeout_ms_ = 60000;
};

// The runner script shipped in the binary, written next to the data on first use.
std::string_view lambda_runner_source();

}  // namespace eddy::delivery
