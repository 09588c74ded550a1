// One shard's records in one JetStream stream (the shard storage seam, log/shard_storage.h, in
// cluster mode): each append is one message holding one batch in log/batch_format.h's framing,
// replicated by the servers before it is acknowledged. Offsets stay dense per shard across nodes:
// a node publishes a batch only "after the message it last saw" (Nats-Expected-Last-Sequence),
// and on a conflict re-reads the tail and tries again, so every accepted batch was numbered
// against the true tail and arrival times never decrease. Retries of one publish carry one
// message id, so the servers' duplicate window stores it once. Design:
// docs/design/cluster-jetstream.md §1.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cluster/nats_connection.h"
#include "log/batch_format.h"
#include "log/shard_storage.h"

namespace eddy::cluster {

struct JetStreamShardOptions {
  std::string stream;       // the JetStream stream's name (shard_stream_name)
  std::string subject;      // its one subject (shard_subject)
  std::string description;  // "<Kinesis stream>/<shard id>", for operators
  int replicas = 1;
  std::string writer_id;              // this node's id and incarnation: the prefix of message ids
  int64_t append_deadline_ms = 8000;  // an unavailable cluster fails an append after this
  int64_t publish_wait_ms = 2000;     // each attempt waits this long for the servers' ack
  int64_t tail_refresh_ms = 100;      // end_offset() may be this stale (other nodes' appends)
};

// JetStream names allow no '.', so shards are named by the stream's random id, not its name.
std::string shard_stream_name(uint64_t stream_id, uint32_t shard);
std::string shard_subject(uint64_t stream_id, uint32_t shard);
// A delivery stream's direct-put journal, by the random id of the delivery stream's incarnation.
std::string journal_stream_name(uint64_t incarnation);
std::string journal_subject(uint64_t incarnation);

class JetStreamShard final : public log::ShardStorage {
 public:
  // Creates the JetStream stream if it does not exist (the same configuration twice is one
  // stream); a sealed one is opened as it is.
  static Result<std::shared_ptr<JetStreamShard>> open(NatsConnection& nats, JetStreamShardOptions options);

  Result<log::AppendResult> append(std::span<const log::AppendRecord> records, TimestampMs now) override;
  // An append returns once a quorum of servers holds the batch: nothing is left to sync.
  Status sync() override { return {}; }
  bool has_unsynced() const override { return false; }

  Result<log::ReadResult> read(log::Offset from, size_t max_records, size_t max_bytes) const override;
  Result<log::Offset> offset_for_time(TimestampMs ts) const override;
  Result<TimestampMs> arrival_of(log::Offset offset) const override;

  log::Offset start_offset() const override;
  log::Offset end_offset() const override;  // acknowledged means readable: the written offset
  log::Offset written_offset() const override { return end_offset(); }
  TimestampMs last_arrival_ms() const override;
  std::optional<TimestampMs> oldest_arrival_ms() const override;

  // Purges whole batches older than `cutoff`, never the last one (it carries the next offset).
  Status trim_before(TimestampMs cutoff) override;
  Status seal() override;
  void destroy() override;

  // Appends that met another node's batch and were numbered again (for /metrics).
  uint64_t append_conflicts() const { return conflicts_.load(std::memory_order_relaxed); }
  // Appends that went out in another append's message (grouped while a publish was in flight).
  uint64_t grouped_appends() const { return grouped_.load(std::memory_order_relaxed); }

 private:
  // One message: its sequence, its batch header, and the message owning the bytes.
  struct Batch {
    uint64_t seq = 0;
    log::BatchHeader header{};
    std::shared_ptr<const void> message;
    std::string_view bytes;
    log::Offset end() const { return header.base_offset + header.count; }
  };
  struct Tail {
    uint64_t last_seq = 0;
    log::Offset next_offset = 0;
    TimestampMs last_arrival = 0;
    bool known = false;
    int64_t refreshed_ms = 0;  // steady clock
  };
  struct Head {
    uint64_t first_seq = 0;
    log::Offset start_offset = 0;
    TimestampMs oldest_arrival = 0;
    bool empty = true;
    bool known = false;
    int64_t refreshed_ms = 0;
  };
  struct Known {
    uint64_t seq;
    uint32_t count;
    TimestampMs arrival;
  };

  JetStreamShard(NatsConnection& nats, JetStreamShardOptions options) : nats_(nats), options_(std::move(options)) {}

 public:
  ~JetStreamShard() override;

  // While someone waits on readable(): a core NATS subscription to the shard's subject, so that
  // another node's appends wake them too (its messages are the appends). `signal` is cleared
  // when the shard goes; the subscription's callback may outlive it.
  struct Tap {
    std::mutex mu;
    log::ReadableSignal* signal = nullptr;
    natsSubscription* sub = nullptr;  // changed only by the watched hook, under the signal's lock
  };

 private:
  // One append waiting for the publish that carries it.
  struct Pending {
    std::span<const log::AppendRecord> records;
    TimestampMs now;
    bool done = false;
    Result<log::AppendResult> result;
  };
  // Publishes `records` as one batch, numbered after the shard's tail; retries as described.
  Result<log::AppendResult> publish(std::span<const log::AppendRecord> records, TimestampMs now);

  // Message `seq`, or the first one after it if it was purged (nullopt past the end).
  Result<std::optional<Batch>> fetch(uint64_t seq, bool at_or_after) const;
  Status refresh_tail() const;
  Status refresh_head() const;
  // The batch holding `offset` (the oldest retained one if `offset` precedes it); nullopt at the end.
  Result<std::optional<Batch>> locate(log::Offset offset) const;
  // The first batch whose arrival is >= ts; nullopt if none.
  Result<std::optional<Batch>> first_arriving_at(TimestampMs ts) const;
  void remember(const Batch& b) const;
  Tail tail_copy() const;
  std::string next_message_id();

  std::shared_ptr<Tap> tap_ = std::make_shared<Tap>();
  void listen(bool on);  // the watched hook: subscribes or unsubscribes the tap

  NatsConnection& nats_;
  JetStreamShardOptions options_;
  std::mutex queue_mu_;  // guards queue_ and publishing_
  std::condition_variable queue_cv_;
  std::deque<Pending*> queue_;
  bool publishing_ = false;  // an append is publishing (and then takes what queued meanwhile)
  size_t max_group_bytes_ = 8u << 20;
  std::atomic<uint64_t> grouped_{0};
  std::mutex append_mu_;   // one publish at a time per shard per node; seal() waits for it
  mutable std::mutex mu_;  // guards the fields below
  mutable Tail tail_;
  mutable Head head_;
  mutable std::map<log::Offset, Known> known_;  // batches seen, by base offset (bounded)
  bool sealed_ = false;
  uint64_t message_counter_ = 0;
  std::string scratch_;  // batch encoding buffer, under append_mu_
  std::atomic<uint64_t> conflicts_{0};
};

}  // namespace eddy::cluster
