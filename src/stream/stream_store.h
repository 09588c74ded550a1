// The registry of streams under `<data-dir>/streams/`: Kinesis semantics for every data and
// control operation, persisted metadata, background status changes and retention.
//
// Errors are returned as values with Kinesis's error kinds and messages; the API layer only
// translates them to the wire.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/metadata_store.h"
#include "common/record_cipher.h"
#include "log/group_commit.h"
#include "stream/stream.h"
#include "stream/tokens.h"

namespace eddy::stream {

struct StoreOptions {
  std::filesystem::path dir;                    // holds one folder per stream
  log::LogOptions log;                          // segment size, index density, visibility
  bool enforce_limits = false;                  // Kinesis per-shard throughput limits
  TimestampMs iterator_ttl_ms = 5 * 60 * 1000;  // shard iterators and page tokens expire after this
  TimestampMs status_delay_ms = 0;              // CREATING/UPDATING last at least this long
  TimestampMs retention_check_ms = 30 * 1000;   // how often old segments are looked for
  std::string region = "us-east-1";
  std::string account = "000000000000";
  // Open shards the account may hold in all (AWS's default quota, raised there on request).
  size_t shard_limit = 500;
  // Opens the storage of shard `shard` of a stream (log/shard_storage.h: the seam a second
  // backend implements). Unset: a ShardLog in `local_dir`, under the stream's folder. Called
  // under the stream's exclusive lock (creation, resharding) or at load.
  std::function<Result<std::shared_ptr<log::ShardStorage>>(const std::string& stream, uint64_t stream_id,
                                                           uint32_t shard, const std::filesystem::path& local_dir)>
      open_storage;
  // Encrypts records at rest for streams with encryption on (StartStreamEncryption); unset, that
  // call is refused and encrypted records cannot be read.
  std::shared_ptr<const RecordCipher> cipher;
  // Where streams' settings and shards are kept (common/metadata_store.h). Unset: stream.json in
  // each stream's folder under `dir`.
  std::shared_ptr<MetadataStore> metadata;
};

struct ShardSnapshot {
  ShardInfo info;
  std::string starting_sequence_number;
  std::optional<std::string> ending_sequence_number;
};

struct StreamSnapshot {
  std::string name;
  std::string arn;
  uint64_t id = 0;
  StreamStatus status = StreamStatus::kActive;
  StreamMode mode = StreamMode::kProvisioned;
  TimestampMs created_ms = 0;
  int retention_hours = 24;
  uint32_t max_record_kib = 1024;
  std::optional<uint32_t> warm_throughput_mibps;
  std::vector<std::string> shard_level_metrics;
  size_t open_shard_count = 0;
  size_t consumer_count = 0;
  std::string encryption_key_id;  // empty: EncryptionType NONE
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<ShardSnapshot> shards;  // retained shards, by index
};

struct PutEntry {
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // empty if none
  std::string_view data;
};

struct PutOutcome {
  bool ok = false;
  uint32_t shard_index = 0;
  std::string sequence_number;
  Errc error = Errc::kInternal;
  std::string message;
};

struct PutResult {
  std::vector<PutOutcome> outcomes;
  std::vector<std::shared_ptr<log::ShardStorage>> touched;  // to commit before acknowledging
  size_t failed = 0;
  bool encrypted = false;  // the records were sealed at rest
};

enum class IteratorType { kAtSequenceNumber, kAfterSequenceNumber, kTrimHorizon, kLatest, kAtTimestamp };
std::optional<IteratorType> parse_iterator_type(std::string_view s);

struct ChildShard {
  std::string shard_id;
  std::vector<std::string> parent_shards;
  HashKeyRange range;
};

struct GetRecordsResult {
  uint32_t shard_index = 0;
  log::ReadResult read;
  log::Offset next_offset = 0;  // where the next read continues (meaningless once child_shards are set)
  std::optional<std::string> next_iterator;
  int64_t millis_behind_latest = 0;
  std::vector<ChildShard> child_shards;
};

enum class ShardFilterType { kAfterShardId, kAtTrimHorizon, kFromTrimHorizon, kAtLatest, kAtTimestamp, kFromTimestamp };
std::optional<ShardFilterType> parse_shard_filter_type(std::string_view s);

struct ShardFilter {
  ShardFilterType type = ShardFilterType::kFromTrimHorizon;
  std::optional<std::string> shard_id;
  std::optional<TimestampMs> timestamp;
};

// Where a reader stands in one shard of one incarnation of a stream (what a shard iterator
// holds, without its issue time).
struct ShardCursor {
  uint64_t stream_id = 0;
  uint32_t shard_index = 0;
  log::Offset offset = 0;
};

struct ConsumerSnapshot {
  std::string name;
  std::string arn;
  std::string status;  // CREATING or ACTIVE
  TimestampMs created_ms = 0;
  std::string stream_name;
  std::string stream_arn;
  uint64_t stream_id = 0;
};

// A consumer named by its ARN, or by its stream and its name.
struct ConsumerRef {
  std::optional<std::string> stream;  // the stream's name
  std::optional<std::string> name;
  std::optional<std::string> arn;
};

class ShardWatch;

struct ShardPage {
  std::vector<ShardSnapshot> shards;
  std::optional<std::string> next_token;
};

struct StreamPage {
  std::vector<StreamSnapshot> streams;
  bool has_more = false;
  std::optional<std::string> next_token;
};

class StreamStore {
 public:
  static Result<std::unique_ptr<StreamStore>> open(StoreOptions options, const Clock& clock,
                                                   log::GroupCommitter& committer);
  ~StreamStore();

  const StoreOptions& options() const { return options_; }
  std::string arn(std::string_view name) const;
  // Accepts a stream ARN of this account and region and returns its name.
  Result<std::string> name_from_arn(std::string_view arn) const;

  Status create_stream(const std::string& name, std::optional<int> shard_count, StreamMode mode,
                       std::map<std::string, std::string> tags, std::optional<int> max_record_kib);
  // With registered consumers, refused unless `enforce_consumer_deletion`.
  Status delete_stream(const std::string& name, bool enforce_consumer_deletion = true);
  Result<StreamSnapshot> describe(const std::string& name) const;
  Result<StreamPage> list_streams(size_t limit, std::optional<std::string> exclusive_start,
                                  std::optional<std::string> next_token) const;
  Result<ShardPage> list_shards(std::optional<std::string> name, std::optional<std::string> next_token,
                                std::optional<std::string> exclusive_start_shard_id, size_t max_results,
                                std::optional<ShardFilter> filter) const;

  Result<uint32_t> max_record_bytes(const std::string& name) const;
  Result<PutResult> put(const std::string& name, std::span<const PutEntry> entries);

  Result<std::string> shard_iterator(const std::string& name, const std::string& shard_id, IteratorType type,
                                     std::optional<std::string> sequence_number,
                                     std::optional<TimestampMs> timestamp) const;
  Result<GetRecordsResult> get_records(std::string_view iterator, size_t limit) const;

  // ---- enhanced fan-out (stream_consumers.cc) ----
  Result<ConsumerSnapshot> register_consumer(const std::string& stream, const std::string& consumer,
                                             std::map<std::string, std::string> tags);
  Result<ConsumerSnapshot> describe_consumer(const ConsumerRef& ref) const;
  Result<std::vector<ConsumerSnapshot>> list_consumers(const std::string& stream) const;
  Status deregister_consumer(const ConsumerRef& ref);
  // GetShardIterator's (and SubscribeToShard's) argument rules, which come before existence.
  Status check_position(const std::string& name, const std::string& shard_id, IteratorType type,
                        const std::optional<std::string>& sequence_number, std::optional<TimestampMs> timestamp) const;
  // Where SubscribeToShard starts: GetShardIterator's rules and errors, without an iterator.
  Result<ShardCursor> starting_position(const std::string& name, const std::string& shard_id, IteratorType type,
                                        std::optional<std::string> sequence_number,
                                        std::optional<TimestampMs> timestamp) const;
  // A subscriber's read from `cursor`: GetRecords' answer, neither throttled nor counted as a
  // GetRecords call (enhanced fan-out has its own throughput per consumer).
  Result<GetRecordsResult> read_for_subscriber(const ShardCursor& cursor, size_t limit) const;
  // Calls `wake` whenever records become readable in the cursor's shard, until the watch is gone.
  Result<std::unique_ptr<ShardWatch>> watch(const ShardCursor& cursor, std::function<void()> wake) const;

  Status change_retention(const std::string& name, int hours, bool increase);
  Status add_tags(const std::string& name, const std::map<std::string, std::string>& tags);
  Status remove_tags(const std::string& name, const std::vector<std::string>& keys);

  // Settings (stream_settings.cc): each needs an ACTIVE stream and is kept with its document.
  Status update_mode(const std::string& name, StreamMode mode, std::optional<uint32_t> warm_throughput_mibps);
  Status update_max_record_size(const std::string& name, uint32_t kib);
  Status update_warm_throughput(const std::string& name, uint32_t mibps);
  // EnableEnhancedMonitoring / DisableEnhancedMonitoring: the metrics before and after.
  struct MonitoringChange {
    std::vector<std::string> before, after;
  };
  Result<MonitoringChange> change_monitoring(const std::string& name, const std::vector<std::string>& metrics,
                                             bool enable);
  // Start/StopStreamEncryption: records appended from now on are sealed (or not).
  Status start_encryption(const std::string& name, const std::string& key_id);
  Status stop_encryption(const std::string& name);
  Status put_resource_policy(const std::string& name, const std::string& policy);
  Result<std::string> resource_policy(const std::string& name) const;  // "{}" if none
  Status delete_resource_policy(const std::string& name);

  Status split_shard(const std::string& name, const std::string& shard_id, const std::string& new_starting_hash_key);
  Status merge_shards(const std::string& name, const std::string& shard_id, const std::string& adjacent_shard_id);
  Result<std::pair<int, int>> update_shard_count(const std::string& name, int target);  // {current, target}

  // ---- internal consumers (applications, delivery streams): no iterators, no throttling ----
  struct ShardRead {
    log::ReadResult read;
    log::Offset next = 0;            // where the next read continues
    bool finished = false;           // a closed shard read to its end
    std::vector<uint32_t> children;  // its children, once finished
  };
  // Every retained shard of `name` with its lineage.
  Result<std::vector<ShardInfo>> shards(const std::string& name) const;
  // Reads shard `shard` from `from` (a trimmed position starts at the trim horizon).
  Result<ShardRead> read_shard(const std::string& name, uint32_t shard, log::Offset from, size_t max_records) const;
  // The position TRIM_HORIZON or LATEST names in a shard now.
  Result<log::Offset> shard_position(const std::string& name, uint32_t shard, IteratorType type) const;
  // The first position in a shard whose record arrived at or after `t` (its end if none).
  Result<log::Offset> shard_position_at(const std::string& name, uint32_t shard, TimestampMs t) const;

  // Every stream's counters (/metrics, the dashboard), by name.
  std::vector<StreamMetrics> metrics() const;

  // Runs retention now (the background thread does it every retention_check_ms).
  void enforce_retention();

  // Reads stream `name`'s document again and applies it: another node created, changed,
  // resharded or deleted it (cluster mode calls this for every change the metadata store
  // reports, and a lookup of a name this node does not hold). A document no newer than what this
  // node holds changes nothing.
  Status reload(const std::string& name) const;

 private:
  StreamStore(StoreOptions options, const Clock& clock, log::GroupCommitter& committer);
  Status load();
  Result<IteratorToken> position(const std::string& name, const std::string& shard_id, IteratorType type,
                                 std::optional<std::string> sequence_number,
                                 std::optional<TimestampMs> timestamp) const;
  // GetRecords and a subscriber's read; `as_get_records` throttles and counts the call.
  Result<GetRecordsResult> read_from(const ShardCursor& cursor, size_t limit, bool as_get_records) const;
  // The consumer `ref` names: its stream (held here) and its index there; needs no lock.
  Result<std::pair<std::shared_ptr<Stream>, std::string>> resolve_consumer(const ConsumerRef& ref) const;
  ConsumerSnapshot consumer_snapshot(const Stream& s, const Consumer& c) const;
  // Replaces the views of encrypted records in `read` by their plaintext, kept alive by it.
  Status open_sealed(log::ReadResult& read) const;
  // A stream as its document describes it; shards `reuse` (the same stream, as this node held
  // it) already has keep their storage.
  Result<std::shared_ptr<Stream>> from_document(const MetadataStore::Document& doc, const Stream* reuse) const;
  // One routing of the records in `pending` (indices into entries) to shards and appends;
  // leaves in `pending` those whose shard was sealed under this node's feet.
  Status put_round(Stream& s, const std::string& name, std::span<const PutEntry> entries,
                   const std::vector<uint128>& keys, std::vector<uint32_t>& pending, PutResult& result, bool throttle);
  Status persist(Stream& s) const;  // needs s.mu (exclusive)
  Result<std::shared_ptr<Shard>> open_shard(const Stream& s, ShardInfo info) const;
  // The stream named so: held here, or (shared documents) read from the metadata store.
  std::shared_ptr<Stream> find(const std::string& name) const;
  std::shared_ptr<Stream> find_held(const std::string& name) const;
  std::shared_ptr<Stream> find_by_id(uint64_t id) const;
  Result<std::shared_ptr<Stream>> require(const std::string& name) const;
  Result<std::shared_ptr<Stream>> require_active(const std::string& name) const;
  tl::unexpected<Error> not_found(std::string_view name) const;
  tl::unexpected<Error> not_active(const Stream& s) const;
  std::filesystem::path stream_dir(const Stream& s) const;
  ShardSnapshot snapshot(const Shard& shard) const;
  bool shard_expired(const Stream& s, const ShardInfo& info) const;
  log::Offset trim_horizon(const Stream& s, const Shard& shard) const;
  // Reshards under the exclusive lock: closes `parents`, opens `children`, persists, and shows
  // UPDATING until the background thread marks the stream ACTIVE again.
  Status reshard(const std::shared_ptr<Stream>& self, const std::vector<uint32_t>& parents,
                 std::vector<ShardInfo> children);
  size_t open_shards_elsewhere(const Stream* except) const;  // takes mu_ then each stream's mu
  void schedule(TimestampMs delay, std::function<void()> fn);
  void run_background();

  StoreOptions options_;
  const Clock& clock_;
  log::GroupCommitter& committer_;
  bool shared_ = false;           // options_.metadata was given: other nodes write documents too
  mutable std::shared_mutex mu_;  // guards the maps
  // The streams this node holds: with shared documents, a cache that reload() keeps current.
  mutable std::map<std::string, std::shared_ptr<Stream>> by_name_;
  mutable std::unordered_map<uint64_t, std::shared_ptr<Stream>> by_id_;

  std::mutex tasks_mu_;
  std::condition_variable tasks_cv_;
  std::multimap<TimestampMs, std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread background_;
};

// Unregisters a wake-up from a shard's readable signal when it goes.
class ShardWatch {
 public:
  ShardWatch(std::shared_ptr<log::ShardStorage> storage, std::function<void()> wake)
      : storage_(std::move(storage)), id_(storage_->readable().add(std::move(wake))) {}
  ~ShardWatch() { storage_->readable().remove(id_); }
  ShardWatch(const ShardWatch&) = delete;
  ShardWatch& operator=(const ShardWatch&) = delete;

 private:
  std::shared_ptr<log::ShardStorage> storage_;
  uint64_t id_;
};

}  // namespace eddy::stream
