#include "host/source_reader.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <simdjson.h>

#include "stream/kpl_aggregation.h"

namespace eddy::host {

namespace {

// Reads `reads` on the pool's threads, each range on one of them: the checksums, the first touch
// of the log's pages and the copies are most of a round's reading.
void read_in_parallel(const stream::StreamStore& store, const std::string& source, WorkerPool* pool,
                      std::vector<RangeRead>& reads, size_t read_batch, bool whole) {
  auto read_one = [&](RangeRead& rd) { read_range(store, source, rd, read_batch, whole); };
  if (reads.size() <= 1 || !pool || pool->size() == 1) {
    for (auto& rd : reads) read_one(rd);
    return;
  }
  const size_t parts = std::min(pool->size(), reads.size());
  pool->run(parts, [&](size_t k) {
    for (size_t i = k; i < reads.size(); i += parts) read_one(reads[i]);
  });
}

}  // namespace

void read_range(const stream::StreamStore& store, const std::string& source, RangeRead& rd, size_t read_batch,
                bool whole) {
  auto read = store.read_shard(source, rd.shard, rd.from, read_batch);
  if (!read) return;
  rd.buffer = std::make_shared<SourceBuffer>();
  rd.records.reserve(read->read.records.size());
  rd.read_count = read->read.records.size();
  for (const auto& rec : read->read.records) {
    if (whole) {
      rd.records.push_back(
          {rec.arrival_ms, rd.shard, rec.offset, rec.data, rd.buffer->add({{}, std::string(rec.partition_key), {}})});
      continue;
    }
    // A KPL aggregate is its user records, each with the aggregate's offset and arrival, as the
    // KCL hands them out. A corrupt one goes on whole with the reason: the program's error_stream
    // gets a row with both.
    if (stream::kpl::is_aggregated(rec.data)) {
      auto users = stream::kpl::deaggregate(rec.data);
      if (users) {
        for (const auto& u : *users) rd.records.push_back({rec.arrival_ms, rd.shard, rec.offset, u.data, {}});
        continue;
      }
      rd.records.push_back(
          {rec.arrival_ms, rd.shard, rec.offset, rec.data,
           rd.buffer->add({"KPL aggregated record cannot be unpacked: " + users.error().message, {}, {}})});
      continue;
    }
    rd.records.push_back({rec.arrival_ms, rd.shard, rec.offset, rec.data, {}});
  }
  copy_records(rd.records, *rd.buffer);  // before `read` (the log's buffers) goes
  rd.next = read->next;
  rd.finished = read->finished;
  rd.ok = true;
}

void copy_records(std::vector<SourceCopy>& records, SourceBuffer& into) {
  std::string& bytes = into.bytes;
  size_t total = bytes.size() + simdjson::SIMDJSON_PADDING;
  for (const auto& r : records) total += r.data.size() + 1;
  bytes.reserve(total);
  std::vector<size_t> at;
  at.reserve(records.size());
  for (const auto& r : records) {
    at.push_back(bytes.size());
    bytes.append(r.data);
    bytes.push_back('\n');
  }
  bytes.append(simdjson::SIMDJSON_PADDING, '\0');
  for (size_t i = 0; i < records.size(); ++i)
    records[i].data = std::string_view(bytes.data() + at[i], records[i].data.size());
}

void SourceReader::Buffered::pop_front() {
  --count;
  if (++runs.front().next == runs.front().records.size()) runs.pop_front();
}

Status SourceReader::start_at_latest() {
  wait();
  auto shards = store_.shards(stream_);
  if (!shards) return tl::unexpected(shards.error());
  for (const auto& s : *shards) {
    if (!s.open()) {
      finished_.insert(s.index);
      continue;
    }
    auto p = store_.shard_position(stream_, s.index, stream::IteratorType::kLatest);
    if (p) positions_[s.index] = *p;
  }
  return {};
}

bool SourceReader::drained(uint32_t shard) const {
  if (!finished_.count(shard)) return false;
  auto it = buffered_.find(shard);
  return it == buffered_.end() || it->second.empty();
}

// Children wait until every parent (still listed) has been read and handed out to its end:
// records of one key stay in order across a split or merge.
bool SourceReader::parents_done(const stream::ShardInfo& s) const {
  for (auto p : {s.parent, s.adjacent_parent}) {
    if (p && present_.count(*p) && !drained(*p)) return false;
  }
  return true;
}

std::optional<std::vector<uint32_t>> SourceReader::begin_round() {
  wait();
  auto shards = store_.shards(stream_);
  if (!shards) return std::nullopt;
  shards_ = std::move(*shards);
  present_.clear();
  for (const auto& s : shards_) present_.insert(s.index);
  std::vector<uint32_t> active;
  for (const auto& s : shards_) {
    if (!drained(s.index) && parents_done(s)) active.push_back(s.index);
  }
  return active;
}

void SourceReader::read(size_t read_batch) {
  wait();
  read(read_batch, true);
}

void SourceReader::read_ahead(size_t read_batch) {
  wait();
  if (!ahead_) ahead_ = std::make_unique<WorkerPool>(2);
  ahead_->start(2, [this, read_batch](size_t part) {
    if (part == 1) read(read_batch, false);
  });
  reading_ahead_ = true;
}

void SourceReader::wait() const {
  if (!reading_ahead_) return;
  ahead_->finish();
  reading_ahead_ = false;
}

void SourceReader::read(size_t read_batch, bool parallel) {
  const size_t want = read_batch * kReadBatchesPerRound;
  // Several batches from each shard: a round with several batches gives each thread of the
  // application's pool one, from parsing to operators. A shard's offsets are consecutive, so its
  // next batches are the ranges from + i * read_batch.
  std::set<uint32_t> reading;
  for (const auto& s : shards_) {
    if (!finished_.count(s.index) && parents_done(s)) reading.insert(s.index);
  }
  // Each shard is read until it holds `want` records or a read comes back short, as if its
  // ranges were read one after the other. A shard caught up last round is read one range at a
  // time (its next ranges are likely empty), any other several at once.
  while (!reading.empty()) {
    std::vector<RangeRead> reads;
    for (uint32_t s : reading) {
      const size_t have = buffered_[s].count;
      if (have >= want) continue;
      const uint64_t from = positions_.count(s) ? positions_[s] : 0;
      const size_t ranges = more_[s] ? (want - have + read_batch - 1) / read_batch : 1;
      for (size_t i = 0; i < ranges; ++i) reads.push_back({s, from + i * read_batch});
    }
    read_in_parallel(store_, stream_, parallel ? &pool_ : nullptr, reads, read_batch, whole_);
    // Taken in order, each range only if the one before it ended where it starts (full, not
    // moved by the trim horizon): what reading them one after the other would have taken.
    reading.clear();
    for (size_t i = 0; i < reads.size(); ++i) {
      auto& rd = reads[i];
      const bool first = i == 0 || reads[i - 1].shard != rd.shard;
      const bool last = i + 1 == reads.size() || reads[i + 1].shard != rd.shard;
      const bool follows = first || (positions_[rd.shard] == rd.from && more_[rd.shard] && !finished_.count(rd.shard));
      if (!rd.ok || !follows) {
        reading.erase(rd.shard);
        while (i + 1 < reads.size() && reads[i + 1].shard == rd.shard) ++i;  // read again next round
        continue;
      }
      auto& q = buffered_[rd.shard];
      if (!rd.records.empty()) {
        q.count += rd.records.size();
        q.runs.push_back({std::move(rd.buffer), std::move(rd.records), 0});
      }
      positions_[rd.shard] = rd.next;
      more_[rd.shard] = rd.read_count == read_batch;
      if (rd.finished) finished_.insert(rd.shard);
      if (last && more_[rd.shard] && !rd.finished) reading.insert(rd.shard);
    }
  }
}

std::vector<SourceBatch> SourceReader::take(size_t read_batch, const std::atomic<bool>& stop) {
  const size_t want = read_batch * kReadBatchesPerRound;
  // Merge shards by arrival time (ties: by shard, then offset), but only below what every shard
  // with more to read has reached. Records of the horizon's own millisecond wait for the next
  // round, as the rest of that millisecond may still be unread in some shard: so the order is the
  // same wherever reads ended — at any parallelism or read size, and when a restart reads on from
  // a checkpoint's positions. (Unless the shard holding the horizon has a full buffer of that
  // millisecond alone: then it goes as far as it was read.)
  TimestampMs horizon = INT64_MAX;
  for (const auto& [shard, q] : buffered_) {
    if (more_[shard] && !q.empty()) horizon = std::min(horizon, q.back().arrival);
  }
  if (horizon != INT64_MAX) {
    bool below = false, full = false;
    for (const auto& [shard, q] : buffered_) {
      if (q.empty()) continue;
      below = below || q.front().arrival < horizon;
      full = full || (more_[shard] && q.back().arrival == horizon && q.count >= want);
    }
    if (below || !full) --horizon;  // no record of that millisecond yet
  }
  // The shards with records to hand out, in shard order (ties in arrival go to the first).
  std::vector<std::pair<uint32_t, Buffered*>> queues;
  for (auto& [shard, q] : buffered_) {
    if (!q.empty()) queues.emplace_back(shard, &q);
  }
  std::vector<SourceBatch> batches(1);
  batches.back().records.reserve(read_batch);
  std::optional<std::pair<uint32_t, uint64_t>> last;  // shard and offset of the last record taken
  for (;;) {
    // The shard whose first record comes next, and how far it leads: its records go on until
    // one would come after another shard's first (a single shard: all up to the horizon).
    Buffered* best = nullptr;
    uint32_t best_shard = 0;
    for (auto& [shard, q] : queues) {
      if (q->empty() || q->front().arrival > horizon) continue;
      if (!best || q->front().arrival < best->front().arrival) {
        best = q;
        best_shard = shard;
      }
    }
    if (!best) break;
    TimestampMs until = horizon;  // take records of best arriving at or before this
    for (auto& [shard, q] : queues) {
      if (q == best || q->empty()) continue;
      // Another shard's first record: equal arrivals go to the lower shard first.
      until = std::min(until, shard < best_shard ? q->front().arrival - 1 : q->front().arrival);
    }
    bool stopped = false;
    do {
      SourceCopy& r = best->front();
      // Stop only between Kinesis records: the user records of a KPL aggregate share its offset,
      // and a checkpoint's position (the first offset not handed out) cannot point inside one.
      if (stop && !(last && last->first == best_shard && last->second == r.offset)) {
        stopped = true;
        break;
      }
      last = {best_shard, r.offset};
      SourceBatch& batch = batches.back();
      const auto& buffer = best->runs.front().buffer;
      if (batch.buffers.empty() || batch.buffers.back() != buffer) batch.buffers.push_back(buffer);
      batch.records.push_back(r);
      best->pop_front();
      if (batch.records.size() >= read_batch) {
        batches.emplace_back();
        batches.back().records.reserve(read_batch);
      }
    } while (!best->empty() && best->front().arrival <= until);
    if (stopped) break;
  }
  if (batches.back().records.empty()) batches.pop_back();
  return batches;
}

std::optional<std::pair<uint32_t, uint64_t>> SourceReader::sole_shard() const {
  wait();
  for (const auto& [shard, q] : buffered_) {
    if (!q.empty()) return std::nullopt;  // records of an earlier round wait to be merged
  }
  std::optional<std::pair<uint32_t, uint64_t>> sole;
  for (const auto& s : shards_) {
    if (finished_.count(s.index) || !parents_done(s)) continue;
    if (sole) return std::nullopt;
    const auto at = positions_.find(s.index);
    sole = {s.index, at == positions_.end() ? 0 : at->second};
  }
  return sole;
}

void SourceReader::advance(uint32_t shard, uint64_t next, bool more, bool finished) {
  wait();
  positions_[shard] = next;
  more_[shard] = more;
  if (finished) finished_.insert(shard);
}

std::map<uint32_t, uint64_t> SourceReader::checkpoint_positions() const {
  wait();
  auto positions = positions_;
  for (const auto& [shard, q] : buffered_) {
    if (!q.empty()) positions[shard] = q.front().offset;
  }
  return positions;
}

std::vector<uint32_t> SourceReader::checkpoint_finished() const {
  wait();
  std::vector<uint32_t> out;
  for (uint32_t s : finished_) {
    if (drained(s)) out.push_back(s);
  }
  return out;
}

}  // namespace eddy::host
