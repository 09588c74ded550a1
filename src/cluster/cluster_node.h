// What `eddy serve --cluster` adds to a node: its connection to the NATS servers, the shared
// metadata bucket, the factory of shard storages (a JetStream stream per shard), and a watch
// that tells the node about every document another node writes or removes.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/jetstream_metadata_store.h"
#include "cluster/jetstream_shard.h"
#include "cluster/nats_connection.h"

namespace eddy::cluster {

struct ClusterOptions {
  std::vector<std::string> urls;  // --cluster
  std::string node_id;            // --node-id
  int replicas = 1;               // --replicas: copies of every shard and document
};

// The metadata bucket every node shares, and the kinds of documents in it.
inline constexpr const char* kMetadataBucket = "eddy_meta";

// A 5 MiB PutRecords batch, or one 10 MiB record, plus framing must fit one NATS message.
inline constexpr int64_t kMinMaxPayload = 11ll << 20;

class ClusterNode {
 public:
  // Connects, checks the servers' message size limit and opens the metadata bucket; one clear
  // error if any of it fails.
  static Result<std::unique_ptr<ClusterNode>> start(const ClusterOptions& options);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // The documents of one kind ("streams", "apps", "deliveries") in the shared bucket.
  Result<std::shared_ptr<MetadataStore>> metadata(const std::string& kind);
  // Shard `shard` of the stream with id `stream_id` (named `stream`, for operators).
  Result<std::shared_ptr<log::ShardStorage>> open_shard(const std::string& stream, uint64_t stream_id, uint32_t shard);
  // The direct-put journal of delivery stream `delivery` (incarnation `incarnation`).
  Result<std::shared_ptr<log::ShardStorage>> open_journal(const std::string& delivery, uint64_t incarnation);
  // Calls `changed(kind, name)` on the watch's thread for every document written or removed, by
  // any node (this one's own writes included: applying them again changes nothing). After a
  // reconnect, and every resync_ms, every current document is reported again, so a change a
  // lost subscription missed still arrives.
  void watch(std::function<void(const std::string& kind, const std::string& name)> changed, int64_t resync_ms = 60000);

  // Figures for /metrics: appends numbered again after another node's (conflicts), appends
  // grouped into another's message, and reconnects to the servers.
  struct Counters {
    uint64_t append_conflicts = 0;
    uint64_t grouped_appends = 0;
    uint64_t reconnects = 0;
    size_t open_shards = 0;
  };
  Counters counters() const;

  // Where the servers keep a shard: its leader and replicas (eddy cluster status).
  struct Replica {
    std::string server;
    bool current = false;
    bool offline = false;
    uint64_t lag = 0;
  };
  struct ShardPlacement {
    std::string jetstream_stream;
    std::string leader;
    std::vector<Replica> replicas;  // the leader's followers
    uint64_t messages = 0, bytes = 0;
  };
  Result<ShardPlacement> shard_placement(uint64_t stream_id, uint32_t shard) const;
  // The server this node is connected to now, and its version (from the INFO line every NATS
  // server sends first; libnats does not expose it). Empty if it cannot be read.
  std::string connected_url() const;
  std::string server_version() const;
  // What an acknowledgement means with these servers, for the start-up note and cluster status.
  std::string durability_note() const;

  // Stops the watch and waits for its thread (before whatever its callback uses goes away).
  void stop_watch();

  const ClusterOptions& options() const { return options_; }
  NatsConnection& nats() { return *nats_; }

 private:
  explicit ClusterNode(ClusterOptions options) : options_(std::move(options)) {}
  Result<std::shared_ptr<log::ShardStorage>> open_storage(JetStreamShardOptions options);
  void run_watch(std::function<void(const std::string&, const std::string&)> changed, int64_t resync_ms);

  ClusterOptions options_;
  std::string writer_id_;  // node id and this process's incarnation: prefixes message ids
  std::unique_ptr<NatsConnection> nats_;
  mutable std::mutex shards_mu_;
  mutable std::vector<std::weak_ptr<JetStreamShard>> shards_;  // opened here, for counters()
  std::atomic<bool> stopping_{false};
  std::thread watcher_;
};

}  // namespace eddy::cluster
