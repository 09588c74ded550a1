// Firehose's Lambda processor without AWS. A processor's LambdaArn names a function,
// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:alias], and the server's own `--lambda NAME=TARGET`
// says where NAME runs (an API caller can name functions, never choose what runs):
//   python:/path/handler.py[#handler]  a Python file written for Lambda, run by eddy's runner
//   exec:<command line>                 any program: the event JSON on stdin, the response on stdout
//   http://host:port/path               a function behind HTTP: the event POSTed, the response in the body
// The event and response are Firehose's record-transformation contract (firehose.md §5).
#pragma once

#include <atomic>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace eddy::delivery {

struct TransformInput {
  std::string record_id;
  TimestampMs arrival_ms;
  std::string data;
  // A Kinesis-sourced record also carries kinesisRecordMetadata (empty for direct put).
  std::string shard_id, partition_key, sequence_number;
  uint32_t subsequence_number = 0;  // a user record's place in its KPL aggregate
};

struct TransformOutcome {
  enum class Result { kOk, kDropped, kFailed } result = Result::kFailed;
  std::string data;                                   // kOk: the transformed bytes
  std::map<std::string, std::string> partition_keys;  // kOk: metadata.partitionKeys (dynamic partitioning)
  std::string error_code;                             // kFailed
  std::string error_message;                          // kFailed
};

class LambdaTransform {
 public:
  // Resolves `arn` (through `functions` for Lambda ARNs); InvalidArgument if it names nothing runnable.
  static Result<LambdaTransform> create(const std::string& arn, const std::map<std::string, std::string>& functions,
                                        const std::string& runner_path, int retries, int timeout_ms,
                                        size_t buffer_bytes = 1u << 20);

  // One outcome per input, in order. The records go in invocations of at most the processor's
  // BufferSizeInMBs of data each (one record at least). An invocation that fails every retry (exit
  // status, timeout, an answer that is not the contract) fails its records with Lambda.FunctionError.
  // `source_stream_arn`: the Kinesis source, for the event's sourceKinesisStreamArn.
  std::vector<TransformOutcome> invoke(const std::string& delivery_arn, const std::vector<TransformInput>& records,
                                       const std::string& source_stream_arn = "") const;

  // Kinesis Data Analytics' preprocessing contract (dev/lambda-preprocessing): the event carries
  // applicationArn, streamArn and records with kinesisStreamRecordMetadata; every record must be
  // answered Ok (with data), Dropped or ProcessingFailed. Invocations of at most the buffer's
  // bytes, in order. Unlike invoke(), a failed invocation (after the retries) is an error for
  // the whole call: KDA retries the same batch until it succeeds (lambda_preprocess.cc).
  Result<std::vector<TransformOutcome>> invoke_analytics(const std::string& application_arn,
                                                         const std::string& stream_arn,
                                                         const std::vector<TransformInput>& records,
                                                         const std::atomic<bool>* cancel = nullptr) const;

  const std::string& arn() const { return arn_; }

 private:
  std::string arn_;
  std::string command_;  // run with /bin/sh -c
  std::string url_;      // or POSTed to
  int retries_ = 3;
  int timeout_ms_ = 60000;
  size_t buffer_bytes_ = 1u << 20;

  std::vector<TransformOutcome> invoke_once(const std::string& delivery_arn, std::span<const TransformInput> records,
                                            const std::string& source_stream_arn) const;
  // Runs the function on `event` (with the retries): its answer's text, or why it failed.
  Result<std::string> call(const std::string& event, const std::atomic<bool>* cancel = nullptr) const;
  Result<std::vector<TransformOutcome>> analytics_once(const std::string& application_arn,
                                                       const std::string& stream_arn,
                                                       std::span<const TransformInput> records,
                                                       const std::atomic<bool>* cancel) const;
};

// The runner script shipped in the binary, written next to the data on first use.
std::string_view lambda_runner_source();

}  // namespace eddy::delivery
