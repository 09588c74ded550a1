// The processors between a round's source records and its objects: the Lambda transform (records
// changed, dropped or failed, partition keys from the function), dynamic partitioning (the
// MetadataExtraction query's keys, one object per set of values), and the record format of an
// object (newline delimiter, GZIP). Records that fail go to the error output as Firehose's error
// lines, which this also writes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "delivery/destination.h"
#include "delivery/source_reader.h"

namespace eddy::delivery {

struct ProcessedRecord {
  std::string data;
  std::map<std::string, std::string> keys;  // partition key values ("query:<key>", "lambda:<key>")
  TimestampMs arrival;
  const SourceRecord* src;
};

// Partition key values -> the records that have them.
using Partitions = std::map<std::map<std::string, std::string>, std::vector<ProcessedRecord>>;

class RecordProcessing {
 public:
  // `delivery_arn` and `source_arn` (a Kinesis source; empty for direct put) go into the Lambda
  // event; `name` and `version` bound the partition key values (they must form object keys).
  RecordProcessing(const Destination& dest, std::string name, int64_t version, std::string delivery_arn,
                   std::string source_arn, const Clock& clock)
      : dest_(dest),
        name_(std::move(name)),
        version_(version),
        delivery_arn_(std::move(delivery_arn)),
        source_arn_(std::move(source_arn)),
        clock_(clock) {}

  // The records after the Lambda transform (all of them, unchanged, without one); the error lines
  // of the records it failed are appended to `errors`.
  std::vector<ProcessedRecord> transform(const std::vector<SourceRecord>& recs, std::string& errors) const;
  // Dynamic partitioning: groups the records by their partition key values; a record whose values
  // cannot be extracted or do not form a key, or that would open a 501st partition, goes to `errors`.
  Partitions partition(std::vector<ProcessedRecord>& records, std::string& errors) const;
  // One object's bytes: the records, each followed by a newline if the delimiter processor is on,
  // compressed if the destination says GZIP.
  std::string join(const std::vector<ProcessedRecord>& records) const;

 private:
  std::string error_line(const SourceRecord& r, const std::string& code, const std::string& message) const;

  const Destination& dest_;
  std::string name_;
  int64_t version_;
  std::string delivery_arn_;
  std::string source_arn_;
  const Clock& clock_;
};

}  // namespace eddy::delivery
