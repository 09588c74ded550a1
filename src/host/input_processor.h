// An application input's Lambda preprocessor (KDA's InputProcessingConfiguration): the host's
// view of it. The server makes one from a function ARN (serve_command.cc, through the delivery
// streams' Lambda runner); the host never runs functions itself.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace eddy::host {

struct PreprocessRecord {
  std::string record_id;  // unique in the invocation
  std::string data;
  std::string shard_id, partition_key, sequence_number;
  TimestampMs arrival_ms = 0;
};

struct PreprocessOutcome {
  enum class Result { kOk, kDropped, kFailed } result = Result::kFailed;
  std::string data;  // kOk: one or more records for the input's schema
};

// One outcome per record, in order; an error when the invocation failed (retried later). `stop`
// turning true stops an invocation in flight (the application is stopping).
using InputProcessor = std::function<Result<std::vector<PreprocessOutcome>>(const std::vector<PreprocessRecord>&,
                                                                            const std::atomic<bool>& stop)>;
// (function ARN, application ARN, stream ARN) -> the processor; InvalidArgument for a function
// this server does not know.
using InputProcessorFactory = std::function<Result<InputProcessor>(
    const std::string& function_arn, const std::string& application_arn, const std::string& stream_arn)>;

}  // namespace eddy::host
