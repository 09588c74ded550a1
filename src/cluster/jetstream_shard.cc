#include "cluster/jetstream_shard.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <thread>

namespace eddy::cluster {

namespace {

constexpr size_t kMaxKnownBatches = 4096;
constexpr int64_t kHeadRefreshMs = 1000;
constexpr int64_t kDuplicateWindowNs = 120LL * 1000 * 1000 * 1000;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<const void> own(natsMsg* m) {
  return std::shared_ptr<const void>(
      m, [](const void* p) { natsMsg_Destroy(static_cast<natsMsg*>(const_cast<void*>(p))); });
}

// A message's stream sequence: libnats fills it for js_GetMsg; a direct get carries it as a header.
uint64_t sequence_of(natsMsg* m) {
  if (const uint64_t seq = natsMsg_GetSequence(m); seq != 0) return seq;
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, "Nats-Sequence", &v) == NATS_OK && v) return std::strtoull(v, nullptr, 10);
  return 0;
}

bool not_found(natsStatus s, jsErrCode code) {
  return s == NATS_NOT_FOUND || code == JSNoMessageFoundErr;
}

}  // namespace

std::string shard_stream_name(uint64_t stream_id, uint32_t shard) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "EDDY_S_%016" PRIx64 "_%u", stream_id, shard);
  return buf;
}

std::string shard_subject(uint64_t stream_id, uint32_t shard) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "eddy.s.%016" PRIx64 ".%u", stream_id, shard);
  return buf;
}

std::string journal_stream_name(uint64_t incarnation) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "EDDY_D_%016" PRIx64, incarnation);
  return buf;
}

std::string journal_subject(uint64_t incarnation) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "eddy.d.%016" PRIx64, incarnation);
  return buf;
}

namespace {

void on_tap_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  natsMsg_Destroy(msg);
  auto& tap = *static_cast<std::shared_ptr<JetStreamShard::Tap>*>(closure);
  std::lock_guard lock(tap->mu);
  if (tap->signal) tap->signal->notify();
}

void on_tap_complete(void* closure) {
  delete static_cast<std::shared_ptr<JetStreamShard::Tap>*>(closure);
}

}  // namespace

JetStreamShard::~JetStreamShard() {
  {
    std::lock_guard lock(tap_->mu);
    tap_->signal = nullptr;
  }
  readable().set_watched_hook(nullptr);
  if (tap_->sub) {
    natsSubscription_Unsubscribe(tap_->sub);
    natsSubscription_Destroy(tap_->sub);
  }
}

void JetStreamShard::listen(bool on) {
  if (on && !tap_->sub) {
    auto* closure = new std::shared_ptr<Tap>(tap_);
    natsSubscription* sub = nullptr;
    if (natsConnection_Subscribe(&sub, nats_.connection(), options_.subject.c_str(), &on_tap_message, closure) !=
        NATS_OK) {
      // Without it, subscriptions still see other nodes' appends at their next look.
      delete closure;
      return;
    }
    natsSubscription_SetOnCompleteCB(sub, &on_tap_complete, closure);
    tap_->sub = sub;
  } else if (!on && tap_->sub) {
    natsSubscription_Unsubscribe(tap_->sub);
    natsSubscription_Destroy(tap_->sub);
    tap_->sub = nullptr;
  }
}

Result<std::shared_ptr<JetStreamShard>> JetStreamShard::open(NatsConnection& nats, JetStreamShardOptions options) {
  std::shared_ptr<JetStreamShard> shard(new JetStreamShard(nats, std::move(options)));
  shard->tap_->signal = &shard->readable();
  shard->readable().set_watched_hook([raw = shard.get()](bool on) { raw->listen(on); });
  const auto& o = shard->options_;
  const char* subjects[] = {o.subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = o.stream.c_str();
  config.Description = o.description.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = o.replicas;
  config.Retention = js_LimitsPolicy;
  config.Discard = js_DiscardOld;
  config.MaxAge = 0;  // retention is trim_before(): purges by sequence, never the last batch
  config.Duplicates = kDuplicateWindowNs;
  config.AllowDirect = true;
  config.DenyDelete = true;
  config.MaxMsgSize = static_cast<int32_t>(natsConnection_GetMaxPayload(nats.connection()));
  // Grouped appends stay under the servers' message limit, with room for the framing.
  shard->max_group_bytes_ = static_cast<size_t>(std::max<int64_t>(config.MaxMsgSize - (1 << 20), 1 << 20));
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&info, nats.jetstream(), &config, nullptr, &code);
  jsStreamInfo_Destroy(info);
  // "Name in use": it exists with another configuration (sealed, or made by an older eddy).
  if (s != NATS_OK && code != JSStreamNameExistErr) {
    if (code == JSClusterNoPeersErr || code == JSStreamReplicasNotSupportedErr) {
      return make_error(Errc::kInvalidArgument, "the NATS cluster has fewer JetStream servers than --replicas " +
                                                    std::to_string(o.replicas) +
                                                    " asks for: lower --replicas or add servers");
    }
    return tl::unexpected(nats_error(s, "creating JetStream stream " + o.stream, code));
  }
  return shard;
}

std::string JetStreamShard::next_message_id() {
  return options_.writer_id + "." + options_.stream + "." + std::to_string(++message_counter_);
}

JetStreamShard::Tail JetStreamShard::tail_copy() const {
  std::lock_guard lock(mu_);
  return tail_;
}

void JetStreamShard::remember(const Batch& b) const {
  std::lock_guard lock(mu_);
  known_[b.header.base_offset] = {b.seq, b.header.count, b.header.arrival_ms};
  while (known_.size() > kMaxKnownBatches) known_.erase(known_.begin());
  if (b.seq > tail_.last_seq && tail_.known) {
    tail_.last_seq = b.seq;
    tail_.next_offset = b.end();
    tail_.last_arrival = b.header.arrival_ms;
  }
}

Result<std::optional<JetStreamShard::Batch>> JetStreamShard::fetch(uint64_t seq, bool at_or_after) const {
  natsMsg* m = nullptr;
  jsDirectGetMsgOptions d;
  jsDirectGetMsgOptions_Init(&d);
  d.Sequence = seq;
  if (at_or_after) d.NextBySubject = options_.subject.c_str();
  natsStatus s = js_DirectGetMsg(&m, nats_.jetstream(), options_.stream.c_str(), nullptr, &d);
  if (s == NATS_NOT_FOUND) {
    // Direct gets may be answered by a replica that is behind: ask the leader about a message
    // this node knows exists.
    const Tail tail = tail_copy();
    if (seq > tail.last_seq) return std::nullopt;
    jsErrCode code = static_cast<jsErrCode>(0);
    s = js_GetMsg(&m, nats_.jetstream(), options_.stream.c_str(), seq, nullptr, &code);
    if (not_found(s, code)) {
      if (!at_or_after) return std::nullopt;
      // Purged: the oldest retained batch follows it.
      if (auto h = refresh_head(); !h) return tl::unexpected(h.error());
      uint64_t first;
      {
        std::lock_guard lock(mu_);
        if (head_.empty) return std::nullopt;
        first = head_.first_seq;
      }
      if (first <= seq) return std::nullopt;
      s = js_GetMsg(&m, nats_.jetstream(), options_.stream.c_str(), first, nullptr, &code);
      if (not_found(s, code)) return std::nullopt;
    }
    if (s != NATS_OK) return tl::unexpected(nats_error(s, "reading " + options_.stream, code));
  } else if (s != NATS_OK) {
    return tl::unexpected(nats_error(s, "reading " + options_.stream));
  }
  Batch b;
  b.message = own(m);
  b.seq = sequence_of(m);
  b.bytes = std::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
  if (!log::decode_batch_header(b.bytes, b.header) || b.header.total_bytes() > b.bytes.size() || b.seq == 0) {
    return make_error(Errc::kCorruption,
                      "message " + std::to_string(b.seq) + " of " + options_.stream + " is not an eddy batch");
  }
  b.bytes = b.bytes.substr(0, b.header.total_bytes());
  return b;
}

Status JetStreamShard::refresh_tail() const {
  natsMsg* m = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const int64_t asked = steady_ms();
  natsStatus s =
      js_GetLastMsg(&m, nats_.jetstream(), options_.stream.c_str(), options_.subject.c_str(), nullptr, &code);
  Tail fresh;
  fresh.known = true;
  fresh.refreshed_ms = asked;
  if (s == NATS_OK) {
    auto owned = own(m);
    log::BatchHeader h{};
    const std::string_view bytes(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    if (!log::decode_batch_header(bytes, h))
      return make_error(Errc::kCorruption, "the last message of " + options_.stream + " is not an eddy batch");
    fresh.last_seq = sequence_of(m);
    fresh.next_offset = h.base_offset + h.count;
    fresh.last_arrival = h.arrival_ms;
  } else if (!not_found(s, code)) {
    return tl::unexpected(nats_error(s, "reading the end of " + options_.stream, code));
  }
  std::lock_guard lock(mu_);
  // Another thread may have seen a newer tail meanwhile; tails only move forward.
  if (!tail_.known || fresh.last_seq >= tail_.last_seq) tail_ = fresh;
  tail_.refreshed_ms = asked;
  return {};
}

Status JetStreamShard::refresh_head() const {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const int64_t asked = steady_ms();
  natsStatus s = js_GetStreamInfo(&info, nats_.jetstream(), options_.stream.c_str(), nullptr, &code);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "reading the state of " + options_.stream, code));
  const uint64_t first = info->State.FirstSeq, count = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  Head fresh;
  fresh.known = true;
  fresh.refreshed_ms = asked;
  fresh.first_seq = first;
  if (count > 0) {
    // The first message itself, from the leader (a direct get could come from a lagging replica).
    natsMsg* m = nullptr;
    s = js_GetMsg(&m, nats_.jetstream(), options_.stream.c_str(), first, nullptr, &code);
    if (s == NATS_OK) {
      auto owned = own(m);
      log::BatchHeader h{};
      const std::string_view bytes(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
      if (!log::decode_batch_header(bytes, h))
        return make_error(Errc::kCorruption,
                          "message " + std::to_string(first) + " of " + options_.stream + " is not an eddy batch");
      fresh.empty = false;
      fresh.start_offset = h.base_offset;
      fresh.oldest_arrival = h.arrival_ms;
    } else if (!not_found(s, code)) {
      return tl::unexpected(nats_error(s, "reading the start of " + options_.stream, code));
    }
    // Not found: purged just now; the next refresh sees the new head.
  }
  std::lock_guard lock(mu_);
  head_ = fresh;
  if (!fresh.empty) known_.erase(known_.begin(), known_.lower_bound(fresh.start_offset));
  return {};
}

Result<log::AppendResult> JetStreamShard::append(std::span<const log::AppendRecord> records, TimestampMs now) {
  // Appends that arrive while a publish is in flight wait and go out together in the next
  // message, as one batch: one quorum round trip for all of them.
  Pending me{records, now};
  std::unique_lock q(queue_mu_);
  queue_.push_back(&me);
  queue_cv_.wait(q, [&] { return me.done || !publishing_; });
  if (me.done) return std::move(me.result);
  publishing_ = true;
  while (!me.done) {
    // Take what waits, up to a message's worth.
    std::vector<Pending*> group;
    size_t bytes = 0;
    while (!queue_.empty()) {
      Pending* p = queue_.front();
      size_t size = 0;
      for (const auto& r : p->records) size += r.data.size() + r.partition_key.size() + r.explicit_hash_key.size() + 16;
      if (!group.empty() && bytes + size > max_group_bytes_) break;
      bytes += size;
      group.push_back(p);
      queue_.pop_front();
    }
    q.unlock();
    std::vector<log::AppendRecord> all;
    TimestampMs latest = 0;
    for (Pending* p : group) {
      all.insert(all.end(), p->records.begin(), p->records.end());
      latest = std::max(latest, p->now);
    }
    auto appended = group.size() == 1 ? publish(group[0]->records, group[0]->now) : publish(all, latest);
    q.lock();
    uint64_t at = 0;
    for (Pending* p : group) {
      if (appended) {
        p->result = log::AppendResult{appended->first_offset + at, static_cast<uint32_t>(p->records.size()),
                                      appended->arrival_ms};
        at += p->records.size();
      } else {
        p->result = tl::unexpected(appended.error());
      }
      p->done = true;
    }
    if (group.size() > 1) grouped_.fetch_add(group.size() - 1, std::memory_order_relaxed);
  }
  publishing_ = false;
  queue_cv_.notify_all();  // the others' results, or one of them publishes next
  q.unlock();
  if (me.result) readable().notify();  // acknowledged means readable
  return std::move(me.result);
}

Result<log::AppendResult> JetStreamShard::publish(std::span<const log::AppendRecord> records, TimestampMs now) {
  std::lock_guard append_lock(append_mu_);
  {
    std::lock_guard lock(mu_);
    if (sealed_) return make_error(Errc::kInvalidArgument, "the shard is closed");
  }
  if (!tail_copy().known) {
    if (auto t = refresh_tail(); !t) return tl::unexpected(t.error());
  }
  const int64_t deadline = steady_ms() + options_.append_deadline_ms;
  int64_t backoff_ms = 25;
  Tail tail = tail_copy();
  TimestampMs arrival = std::max(now, tail.last_arrival);
  scratch_.clear();
  log::encode_batch(tail.next_offset, arrival, records, scratch_);
  std::string id = next_message_id();
  for (;;) {
    natsMsg* m = nullptr;
    natsStatus s =
        natsMsg_Create(&m, options_.subject.c_str(), nullptr, scratch_.data(), static_cast<int>(scratch_.size()));
    if (s != NATS_OK) return tl::unexpected(nats_error(s, "building a message for " + options_.stream));
    auto owned = own(m);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    po.MaxWait = options_.publish_wait_ms;
    // "After the message this node last saw". ExpectLastSeq 0 means "no expectation" to libnats and
    // the servers, so the first batch of a shard says "no message on the subject" instead.
    if (tail.last_seq > 0)
      po.ExpectLastSeq = tail.last_seq;
    else
      po.ExpectNoMessage = true;
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    s = js_PublishMsg(&ack, nats_.jetstream(), m, &po, &code);
    if (s == NATS_OK) {
      // A duplicate ack names the sequence where an earlier attempt of this message landed.
      const uint64_t seq = ack->Sequence;
      jsPubAck_Destroy(ack);
      std::lock_guard lock(mu_);
      if (seq >= tail_.last_seq) {
        tail_.last_seq = seq;
        tail_.next_offset = tail.next_offset + records.size();
        tail_.last_arrival = arrival;
        tail_.known = true;
      }
      // A head seen empty is not this batch: other nodes may have appended before it.
      if (head_.known && head_.empty) head_.known = false;
      known_[tail.next_offset] = {seq, static_cast<uint32_t>(records.size()), arrival};
      while (known_.size() > kMaxKnownBatches) known_.erase(known_.begin());
      return log::AppendResult{tail.next_offset, static_cast<uint32_t>(records.size()), arrival};
    }
    if (code == JSStreamWrongLastSequenceErr) {
      // Another node appended first (and this message did not land: the servers check the message
      // id before the expectation). Number the batch again against the new tail.
      conflicts_.fetch_add(1, std::memory_order_relaxed);
      if (auto t = refresh_tail(); !t) return tl::unexpected(t.error());
      tail = tail_copy();
      arrival = std::max(now, tail.last_arrival);
      scratch_.clear();
      log::encode_batch(tail.next_offset, arrival, records, scratch_);
      id = next_message_id();
      if (steady_ms() > deadline)
        return make_error(Errc::kUnavailable, "appending to " + options_.stream + ": too many concurrent writers");
      continue;
    }
    if (code == JSStreamSealedErr) {
      std::lock_guard lock(mu_);
      sealed_ = true;
      return make_error(Errc::kInvalidArgument, "the shard is closed");
    }
    if (code == JSStreamNotFoundErr)
      return make_error(Errc::kResourceNotFound, "the shard's JetStream stream " + options_.stream + " is gone");
    if (code == JSStreamMessageExceedsMaximumErr) {
      return make_error(Errc::kInvalidArgument,
                        "the batch is larger than the NATS servers' max_payload: raise it (max_payload: 16MB)");
    }
    Error error = nats_error(s, "appending to " + options_.stream, code);
    if (error.code != Errc::kUnavailable) return tl::unexpected(error);
    {
      // The attempt may have landed: the next append must read the tail first.
      std::lock_guard lock(mu_);
      tail_.known = false;
    }
    if (steady_ms() + backoff_ms > deadline) return tl::unexpected(error);
    // The same message again, with the same id: stored once whatever the earlier attempt did.
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 500);
  }
}

Result<std::optional<JetStreamShard::Batch>> JetStreamShard::locate(log::Offset offset) const {
  Tail tail = tail_copy();
  if (!tail.known || offset >= tail.next_offset) {
    if (auto t = refresh_tail(); !t) return tl::unexpected(t.error());
    tail = tail_copy();
    if (offset >= tail.next_offset) return std::nullopt;
  }
  // Bisect sequences: offsets grow with them. Which message holds which offsets never changes
  // (messages are immutable; purges only take the front), so the batches seen before and the head
  // narrow the search whatever happened since.
  uint64_t lo = 1, hi = tail.last_seq;
  {
    std::lock_guard lock(mu_);
    if (head_.known) lo = std::max<uint64_t>(lo, head_.first_seq);
    auto it = known_.upper_bound(offset);
    if (it != known_.end()) hi = std::min(hi, it->second.seq - 1);
    if (it != known_.begin()) {
      --it;
      lo = std::max(lo, offset < it->first + it->second.count ? it->second.seq : it->second.seq + 1);
    }
  }
  while (lo <= hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto b = fetch(mid, /*at_or_after=*/true);
    if (!b) return tl::unexpected(b.error());
    if (!*b) break;
    remember(**b);
    const Batch& batch = **b;
    // Everything before batch.seq is gone: a position before it starts at the oldest record.
    if (batch.seq > mid && offset < batch.header.base_offset) return b;
    if (offset < batch.header.base_offset)
      hi = mid - 1;
    else if (offset >= batch.end())
      lo = batch.seq + 1;
    else
      return b;
  }
  // `offset` precedes every retained batch: start at the oldest one.
  return fetch(1, /*at_or_after=*/true);
}

Result<log::ReadResult> JetStreamShard::read(log::Offset from, size_t max_records, size_t max_bytes) const {
  log::ReadResult result;
  result.next_offset = from;
  auto located = locate(from);
  if (!located) return tl::unexpected(located.error());
  if (!*located) return result;
  Batch b = std::move(**located);
  from = std::max(from, b.header.base_offset);
  result.next_offset = from;
  size_t bytes = 0;
  std::vector<log::RecordView> records;
  for (;;) {
    records.clear();
    if (!log::decode_batch(b.bytes, b.header, records)) {
      return make_error(Errc::kCorruption,
                        "message " + std::to_string(b.seq) + " of " + options_.stream + " failed its checksum");
    }
    result.keep_alive.push_back(b.message);
    for (const auto& r : records) {
      if (r.offset < from) continue;
      if (result.records.size() >= max_records) return result;
      const size_t size = r.data.size() + r.partition_key.size();
      if (bytes + size > max_bytes && !result.records.empty()) return result;
      bytes += size;
      result.records.push_back(r);
      result.next_offset = r.offset + 1;
    }
    if (result.records.size() >= max_records) return result;
    auto next = fetch(b.seq + 1, /*at_or_after=*/false);
    if (!next) {
      if (result.records.empty()) return tl::unexpected(next.error());
      return result;  // what was read so far; the next read retries
    }
    if (!*next) return result;
    b = std::move(**next);
    remember(b);
  }
}

Result<std::optional<JetStreamShard::Batch>> JetStreamShard::first_arriving_at(TimestampMs ts) const {
  if (auto t = refresh_tail(); !t) return tl::unexpected(t.error());
  const Tail tail = tail_copy();
  if (tail.last_seq == 0 || ts > tail.last_arrival) return std::nullopt;
  uint64_t lo = 1, hi = tail.last_seq;
  {
    std::lock_guard lock(mu_);
    if (head_.known) lo = std::max<uint64_t>(lo, head_.first_seq);
  }
  // Arrival times never decrease with the sequence: bisect for the first at or after ts.
  std::optional<Batch> answer;
  while (lo <= hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto b = fetch(mid, /*at_or_after=*/true);
    if (!b) return tl::unexpected(b.error());
    if (!*b) break;
    const uint64_t seq = (*b)->seq;
    if ((*b)->header.arrival_ms >= ts) {
      answer = std::move(*b);
      if (seq > mid) break;  // everything up to `mid` was purged: this is the oldest batch
      hi = mid - 1;
    } else {
      lo = seq + 1;
    }
  }
  return answer;
}

Result<log::Offset> JetStreamShard::offset_for_time(TimestampMs ts) const {
  auto b = first_arriving_at(ts);
  if (!b) return tl::unexpected(b.error());
  if (!*b) return tail_copy().next_offset;
  return (*b)->header.base_offset;
}

Result<TimestampMs> JetStreamShard::arrival_of(log::Offset offset) const {
  auto b = locate(offset);
  if (!b) return tl::unexpected(b.error());
  if (!*b || offset < (**b).header.base_offset)
    return make_error(Errc::kResourceNotFound, "offset " + std::to_string(offset) + " is not retained");
  return (**b).header.arrival_ms;
}

log::Offset JetStreamShard::start_offset() const {
  bool stale;
  {
    std::lock_guard lock(mu_);
    stale = !head_.known || steady_ms() - head_.refreshed_ms > kHeadRefreshMs;
  }
  if (stale) (void)refresh_head();  // on failure the last known head stands
  std::lock_guard lock(mu_);
  // Purges always keep the last batch, so a shard without messages was never written: it starts
  // at 0 (also when the empty head is stale and others have appended since).
  if (!head_.known || head_.empty) return 0;
  return head_.start_offset;
}

log::Offset JetStreamShard::end_offset() const {
  bool stale;
  {
    std::lock_guard lock(mu_);
    stale = !tail_.known || steady_ms() - tail_.refreshed_ms > options_.tail_refresh_ms;
  }
  if (stale) (void)refresh_tail();  // on failure the last known end stands
  std::lock_guard lock(mu_);
  return tail_.next_offset;
}

TimestampMs JetStreamShard::last_arrival_ms() const {
  (void)end_offset();  // refreshes a stale tail
  std::lock_guard lock(mu_);
  return tail_.last_arrival;
}

std::optional<TimestampMs> JetStreamShard::oldest_arrival_ms() const {
  (void)start_offset();  // refreshes a stale head
  std::lock_guard lock(mu_);
  if (!head_.known || head_.empty) return std::nullopt;
  return head_.oldest_arrival;
}

Status JetStreamShard::trim_before(TimestampMs cutoff) {
  auto b = first_arriving_at(cutoff);
  if (!b) return tl::unexpected(b.error());
  const Tail tail = tail_copy();
  if (tail.last_seq == 0) return {};
  // Keep the last batch whatever its age: it carries the next offset and the arrival floor.
  const uint64_t keep_from = *b ? std::min((*b)->seq, tail.last_seq) : tail.last_seq;
  if (auto h = refresh_head(); !h) return h;
  {
    std::lock_guard lock(mu_);
    if (head_.empty || keep_from <= head_.first_seq) return {};
  }
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Sequence = keep_from;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PurgeStream(nats_.jetstream(), options_.stream.c_str(), &o, &code);
  // A sealed parent cannot be purged: its records stay until the shard expires and is destroyed.
  if (s != NATS_OK && code != JSStreamSealedErr)
    return tl::unexpected(nats_error(s, "trimming " + options_.stream, code));
  return refresh_head();
}

Status JetStreamShard::seal() {
  std::lock_guard append_lock(append_mu_);
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, nats_.jetstream(), options_.stream.c_str(), nullptr, &code);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "sealing " + options_.stream, code));
  if (!info->Config->Sealed) {
    jsStreamConfig config = *info->Config;
    config.Sealed = true;
    jsStreamInfo* updated = nullptr;
    s = js_UpdateStream(&updated, nats_.jetstream(), &config, nullptr, &code);
    jsStreamInfo_Destroy(updated);
  }
  jsStreamInfo_Destroy(info);
  if (s != NATS_OK) return tl::unexpected(nats_error(s, "sealing " + options_.stream, code));
  {
    std::lock_guard lock(mu_);
    sealed_ = true;
  }
  // Sealed, the tail is final: read it once more for appends other nodes made before the seal.
  return refresh_tail();
}

void JetStreamShard::destroy() {
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(nats_.jetstream(), options_.stream.c_str(), nullptr, &code);
  // Gone already is fine; anything else leaves a stream for the operator (nothing reads it again).
  if (s != NATS_OK && code != JSStreamNotFoundErr)
    std::fprintf(stderr, "eddy: could not delete JetStream stream %s: %s\n", options_.stream.c_str(),
                 natsStatus_GetText(s));
}

}  // namespace eddy::cluster
