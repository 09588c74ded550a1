// Per-application counters behind /metrics and the dashboard, after Kinesis Data Analytics'
// CloudWatch metrics (InputRecords, OutputRecords, error rows, MillisBehindLatest). The runner
// thread updates them; the HTTP threads read them.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eddy::host {

struct ApplicationCounters {
  std::atomic<uint64_t> input_records{0};        // source records pushed into the application
  std::atomic<uint64_t> output_rows{0};          // rows written to its outputs (streams, delivery streams)
  std::atomic<uint64_t> error_rows{0};           // rows of error_stream
  std::atomic<int64_t> last_arrival_ms{0};       // arrival time of the latest record processed
  std::atomic<int64_t> millis_behind_latest{0};  // 0 when caught up with the source
  std::atomic<int64_t> last_checkpoint_ms{0};    // when the latest checkpoint was written, 0 if none
  std::atomic<int64_t> watermark_ms{INT64_MIN};  // Program::watermark(), INT64_MIN for none yet
  // Lambda preprocessing (KDA's InputProcessing metrics): invocations, and records by result.
  std::atomic<uint64_t> preprocess_invocations{0}, preprocess_failed_invocations{0};
  std::atomic<uint64_t> preprocess_ok{0}, preprocess_dropped{0}, preprocess_failed{0};
};

struct ApplicationOutputInfo {
  std::string in_app_stream;
  std::string target;     // stream or delivery stream name
  bool delivery = false;  // a delivery stream
};

// One application's figures at one moment.
struct ApplicationMetrics {
  std::string name;
  std::string status;
  std::string source;                          // source stream while running
  std::vector<ApplicationOutputInfo> outputs;  // while running
  uint64_t input_records = 0, output_rows = 0, error_rows = 0;
  uint64_t preprocess_invocations = 0, preprocess_failed_invocations = 0;
  uint64_t preprocess_ok = 0, preprocess_dropped = 0, preprocess_failed = 0;
  uint64_t reference_rows = 0;  // rows of its reference tables as last loaded
  int64_t last_arrival_ms = 0, millis_behind_latest = 0, last_checkpoint_ms = 0;
  std::optional<int64_t> watermark_ms;      // see Program::watermark(); none before any record
  std::optional<int64_t> watermark_lag_ms;  // the wall clock minus watermark_ms (Flink's watermark lag)
  std::optional<std::string> fault;         // why it cannot make progress now (see ApplicationRunner::fault)
};

}  // namespace eddy::host
