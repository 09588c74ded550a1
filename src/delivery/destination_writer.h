// Writes a round's processed records to the destination: objects into the bucket (a bucket
// directory or an S3 store; one per partition with dynamic partitioning), requests to an HTTP
// endpoint, or appends to an eddy stream; records the endpoint or the stream refused after their
// retry duration go to the backup bucket under the error output prefix.
//
// A write that fails leaves nothing the round's redo would not write again identically (the same
// keys, the same request ids, stream appends de-duplicated by their source positions), so the
// caller can redo the whole round, except for the one step after stream appends, which must be
// finished rather than redone: see `FailedObject`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "delivery/delivery_state.h"
#include "delivery/destination.h"
#include "delivery/record_processing.h"
#include "delivery/stream_sink.h"

namespace eddy::delivery {

// Writes (or rewrites) bucket/key; reports its own failures.
using ObjectStore = std::function<Status(const std::string& bucket, const std::string& key, std::string_view bytes)>;

// Records refused by a stream destination, to be written to the backup bucket. Once records are
// appended the round must not be redone from scratch (a new intent, without the target marks,
// could append them twice), so this write is retried until it succeeds.
struct FailedObject {
  std::string key;
  std::string lines;
};

class DestinationWriter {
 public:
  // `target`: the stream of a stream destination (none when its ARN names none: every round fails).
  DestinationWriter(const Destination& dest, const RecordProcessing& processing, std::string name, int64_t version,
                    std::string delivery_arn, ObjectStore objects, StreamSink sink, std::optional<std::string> target,
                    IntentRecord intents, const Clock& clock, std::function<bool()> cancelled)
      : dest_(dest),
        processing_(processing),
        name_(std::move(name)),
        version_(version),
        delivery_arn_(std::move(delivery_arn)),
        objects_(std::move(objects)),
        sink_(std::move(sink)),
        target_(std::move(target)),
        intents_(std::move(intents)),
        clock_(clock),
        cancelled_(std::move(cancelled)) {}

  enum class Written { kAll, kNot, kFailedObjectLeft };
  // Writes the round `key` (records `recs`, sorted by arrival; `processed` after the processors;
  // `partitions` with dynamic partitioning). Records written to the error output are counted in
  // `state`. kFailedObjectLeft: `left` is still to be written with write_failed().
  Written write(const std::string& key, const std::vector<SourceRecord>& recs,
                const std::vector<ProcessedRecord>& processed, const Partitions& partitions, DeliveryPositions& state,
                std::optional<FailedObject>& left);
  // Writes the records a stream refused; counts them in `state` once written.
  bool write_failed(const FailedObject& failed, DeliveryPositions& state);
  // Writes one object to the destination's bucket.
  bool put(const std::string& key, std::string_view bytes) const;

 private:
  Written write_to_stream(const std::vector<ProcessedRecord>& processed, const std::string& key,
                          DeliveryPositions& state, std::optional<FailedObject>& left);
  bool write_to_http(const std::string& key, const std::vector<SourceRecord>& recs,
                     const std::vector<ProcessedRecord>& processed, DeliveryPositions& state);

  const Destination& dest_;
  const RecordProcessing& processing_;
  std::string name_;
  int64_t version_;
  std::string delivery_arn_;
  ObjectStore objects_;
  StreamSink sink_;
  std::optional<std::string> target_;
  IntentRecord intents_;
  const Clock& clock_;
  std::function<bool()> cancelled_;
};

}  // namespace eddy::delivery
