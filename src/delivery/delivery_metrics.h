// One delivery stream's figures at one moment (/metrics, the dashboard), after Firehose's
// CloudWatch metrics: IncomingRecords (direct put), DeliveryToS3.Records, objects written, and
// how far delivery is behind its source.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"

namespace eddy::delivery {

struct DeliveryMetrics {
  std::string name;
  std::string status;
  std::string source;              // "direct-put" or the source stream's name
  std::string destination;         // "s3" (bucket directory or S3 store) or "http" / "stream"
  uint64_t incoming_records = 0;   // direct put: records journaled since creation
  uint64_t delivered_records = 0;  // records in objects written (DeliveryToS3.Records)
  uint64_t objects = 0;            // objects written (DeliveryToS3.Success counts these)
  uint64_t backlog_records = 0;    // accepted but not delivered yet (buffered or not yet read)
  uint64_t buffered_bytes = 0;     // held in memory for the next object (size/interval hints)
  uint64_t buffered_records = 0;
  uint64_t failed_records = 0;       // written to the error prefix (transform, endpoint or stream failures)
  TimestampMs last_delivery_ms = 0;  // 0 if none yet
};

}  // namespace eddy::delivery
