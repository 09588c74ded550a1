// Firehose-style delivery streams: configurations persisted under <data-dir>/deliveries/, a
// durable journal for direct puts, and a worker per delivery stream that buffers records (by size
// or time, whichever first), applies processors, and writes objects to the destination.
//
// Delivery is exactly-once from its source (a Kinesis stream or the direct-put journal): before an
// object is written its source ranges and key are recorded (intent.json); after a crash the same
// ranges are read again and the same object is rewritten, then positions move past them. A client
// that retries PutRecordBatch after a lost answer can still journal a record twice (as on AWS).
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "delivery/lambda_transform.h"

#include "common/blob_store.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/metadata_store.h"
#include "common/path_names.h"
#include "common/placement.h"
#include "delivery/bucket_sink.h"
#include "delivery/delivery_metrics.h"
#include "delivery/delivery_step.h"
#include "delivery/s3_sink.h"
#include "delivery/state_files.h"
#include "log/group_commit.h"
#include "stream/stream_store.h"

namespace eddy::delivery {

struct DeliveryStream {
  nlohmann::json config;  // the CreateDeliveryStream request, destination settings resolved
  std::string status = "ACTIVE";
  int64_t version = 1;
  TimestampMs created_ms = 0;
  TimestampMs updated_ms = 0;
  uint64_t objects = 0;  // objects written
  uint64_t records = 0;  // records delivered
  TimestampMs last_delivery_ms = 0;
};

struct PutOutcome {
  std::vector<std::string> record_ids;
  std::shared_ptr<log::ShardStorage> journal;  // to commit before acknowledging
};

// What cluster mode shares between nodes (docs/design/cluster-jetstream.md).
struct SharedDeliveries {
  std::shared_ptr<MetadataStore> metadata;  // the delivery streams' documents
  std::shared_ptr<BlobStore> state;         // their state.json and intent.json
  // The direct-put journal of incarnation `incarnation` of delivery stream `name` (a random id
  // kept in its document: a stream deleted and created again gets a new journal).
  std::function<Result<std::shared_ptr<log::ShardStorage>>(const std::string& name, uint64_t incarnation)> open_journal;
  std::string node_id;  // names this node's staging folder in a bucket directory shared by nodes
};

struct LambdaSetup;

class DeliveryHost {
 public:
  // `functions`: Lambda function name -> where it runs (python:<file> or exec:<command>), for
  // Lambda processors that name a function ARN (`eddy serve --lambda NAME=...`).
  // With `s3`, buckets are in that S3-compatible store instead of bucket directories.
  DeliveryHost(std::filesystem::path dir, std::filesystem::path bucket_dir, stream::StreamStore& store,
               log::GroupCommitter& committer, const Clock& clock, std::map<std::string, std::string> functions = {},
               std::optional<S3Options> s3 = std::nullopt);
  ~DeliveryHost();

  // Manual stepping: no worker threads; a delivery stream's worker does one round when step() is
  // called, so that tests drive delivery with a ManualClock instead of waiting for threads. Call
  // before load() and create().
  void step_manually() { manual_ = true; }
  // One round of the worker of `name` (delivery_worker.h): what it did. Manual stepping mode only
  // (otherwise its thread runs the rounds: UnsupportedOperation).
  Result<DeliveryStep> step(const std::string& name);
  // Which delivery streams run a worker on this node (common/placement.h; on one machine all of
  // them). Set before load().
  void set_placement(std::shared_ptr<const Placement> p) { placement_ = std::move(p); }
  // Cluster mode: documents, state and journals shared by the nodes. Set before load().
  void set_shared(SharedDeliveries shared);
  // Another node wrote or removed the document of `name`: this node follows (its worker stops,
  // restarts with the new destination, or goes).
  Status reload(const std::string& name);
  // Before a request about `name`: in cluster mode its document is read now (`changes`), or only
  // if this node does not know the name (puts), so that what another node did a moment ago,
  // before the watch told this node, is seen. One machine: nothing to do.
  void learn(const std::string& name, bool changes = true);
  // Whether `name` runs here may have changed: starts or stops its worker accordingly.
  void placement_changed(const std::string& name);

  Status load();
  std::string arn(const std::string& name) const;
  // A function this server runs (--lambda), for an application input's preprocessing.
  Result<LambdaTransform> lambda(const std::string& arn) const;
  Result<DeliveryStream> create(nlohmann::json request);
  Result<DeliveryStream> describe(const std::string& name) const;
  std::vector<DeliveryStream> list() const;
  // The delivery streams whose worker runs on this node now.
  std::vector<std::string> running_here() const;
  // Every delivery stream's figures (delivery_metrics.cc).
  std::vector<DeliveryMetrics> metrics() const;
  // Only what the workers on this node hold in memory for their next objects (name and buffered
  // figures), without reading any state: what a cluster node publishes every second.
  std::vector<DeliveryMetrics> buffers() const;
  // The latest records put to a direct-put delivery stream (kept 24 h in its journal) that arrived
  // at or after `since_ms`, at most `limit`, oldest first: what the dashboard shows of an
  // application output that goes to a delivery stream (delivery_metrics.cc).
  struct JournalRecord {
    TimestampMs arrival_ms = 0;
    uint64_t offset = 0;
    std::string data;
  };
  Result<std::vector<JournalRecord>> tail(const std::string& name, TimestampMs since_ms, size_t limit) const;
  Status remove(const std::string& name);
  // Applies `update` (a `kind`DestinationUpdate, kind ExtendedS3 or HttpEndpoint): merged into a
  // destination of the same kind, replacing one of the other kind. The version must match.
  Status update_destination(const std::string& name, int64_t version, const std::string& kind,
                            const nlohmann::json& update);
  // Direct put: journals the records (one batch) and returns their ids. `keys` (one per record, or
  // none) are kept with them in the journal: an application output's row ordinals.
  Result<PutOutcome> put(const std::string& name, const std::vector<std::string_view>& records,
                         const std::vector<std::string_view>& keys = {});
  // The journal's end (one past its newest record), and its (key, record) pairs from `from` on:
  // how an application restarted from a checkpoint finds the rows it wrote after it.
  Result<uint64_t> journal_end(const std::string& name) const;
  Status scan_journal(const std::string& name, uint64_t from,
                      const std::function<void(std::string_view key, std::string_view record)>& each) const;

 private:
  struct Worker;
  struct Entry {
    DeliveryStream stream;
    uint64_t revision = 0;     // of its document in metadata_
    uint64_t incarnation = 0;  // cluster mode: names its journal and state blobs
    std::shared_ptr<log::ShardStorage> journal;
    std::shared_ptr<const StateFiles> files;
    std::shared_ptr<Worker> worker;  // shared with a step() in progress
  };
  // Writes the entry's document (compare-and-set on its revision).
  Status persist(const std::string& name, Entry& e);
  // The entry a stored document describes, its journal and state files opened.
  Result<std::unique_ptr<Entry>> open_entry(const std::string& name, const std::string& document, uint64_t revision);
  // Its state files and, for direct put, its journal.
  Status open_parts(const std::string& name, Entry& e);
  Status check_destination(const nlohmann::json& request) const;
  LambdaSetup lambda_setup() const;
  void launch(const std::string& name, Entry& e);
  void halt(Entry& e, std::unique_lock<std::mutex>& lock);
  void run(Worker& w);
  // Bytes and records a running worker holds for its next object; zeros when stopped.
  static std::pair<uint64_t, uint64_t> buffered(const Entry& e);

  Status write_object(const std::string& bucket, const std::string& key, std::string_view bytes) const;

  // The folder of the delivery stream `name` under dir_ (common/path_names.h: never a path of the caller's).
  std::filesystem::path entry_dir(const std::string& name) const { return dir_ / path_component(name); }

  std::filesystem::path dir_;
  BucketSink bucket_;
  std::optional<S3Sink> s3_;
  stream::StreamStore& store_;
  log::GroupCommitter& committer_;
  const Clock& clock_;
  std::map<std::string, std::string> functions_;
  bool manual_ = false;
  // <dir>/<name>/stream.json (common/metadata_store.h); the folder also holds the journal,
  // state.json and intent.json.
  std::shared_ptr<MetadataStore> metadata_;
  std::optional<SharedDeliveries> shared_;
  std::shared_ptr<const Placement> placement_ = std::make_shared<LocalPlacement>();
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> streams_;
};

}  // namespace eddy::delivery
