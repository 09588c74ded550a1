#include "log/shard_log.h"

#include <algorithm>
#include <charconv>

#include <unistd.h>

#include "common/file_util.h"

namespace eddy::log {

ShardLog::ShardLog(std::filesystem::path dir, LogOptions options) : dir_(std::move(dir)), options_(options) {}

ShardLog::~ShardLog() = default;

Result<std::unique_ptr<ShardLog>> ShardLog::open(const std::filesystem::path& dir, LogOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::kIo, "create " + dir.string() + ": " + ec.message());
  std::unique_ptr<ShardLog> log(new ShardLog(dir, options));

  std::vector<Offset> bases;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".log" || name.size() != 24) continue;
    Offset base = 0;
    auto [p, err] = std::from_chars(name.data(), name.data() + 20, base);
    if (err == std::errc() && p == name.data() + 20) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool last = i + 1 == bases.size();
    auto seg =
        Segment::open(dir / Segment::file_name(bases[i]), bases[i], /*recover=*/last, options.index_interval_bytes);
    if (!seg && !last) {
      // A sealed segment without a usable index: rebuild it by scanning, tolerating a bad tail.
      seg = Segment::open(dir / Segment::file_name(bases[i]), bases[i], true, options.index_interval_bytes);
    }
    if (!seg) return tl::unexpected(seg.error());
    // A segment that does not continue its predecessor (lost to a crash before it was synced)
    // ends the log: later segments would leave a gap in the offsets.
    if (!log->segments_.empty() && (*seg)->base_offset() != log->segments_.back()->next_offset()) {
      for (size_t j = i; j < bases.size(); ++j) {
        std::filesystem::remove(dir / Segment::file_name(bases[j]), ec);
      }
      break;
    }
    log->segments_.push_back(std::move(*seg));
  }
  if (log->segments_.empty()) {
    auto seg = Segment::create(dir, 0);
    if (!seg) return tl::unexpected(seg.error());
    log->segments_.push_back(std::move(*seg));
  }
  const auto& tail = log->segments_.back();
  log->written_ = tail->next_offset();
  log->synced_ = tail->next_offset();
  log->visible_ = tail->next_offset();
  for (const auto& s : log->segments_) {
    if (!s->empty()) log->last_arrival_ = s->last_arrival_ms();
  }
  return log;
}

// After a failed fsync the kernel may have dropped the dirty pages and marked them clean, so a
// later fsync can succeed without them ever reaching the disk. Nothing written since the last
// good sync is published, then: the shard takes no more appends or syncs until eddy restarts and
// recovers it from what the disk holds (every batch is checksummed).
tl::unexpected<Error> ShardLog::fail(const Error& fsync_error) {
  std::lock_guard guard(failure_mu_);
  if (!failed_) {
    failure_ = fsync_error.message +
               " (this shard's log is stopped: records since its last good fsync are not known to be durable; "
               "restart eddy to recover the shard from the disk)";
    failed_ = true;
  }
  return make_error(Errc::kIo, failure_);
}

tl::unexpected<Error> ShardLog::failure() const {
  std::lock_guard guard(failure_mu_);
  return make_error(Errc::kIo, failure_);
}

Status ShardLog::roll(Offset next_base) {
  auto& tail = segments_.back();
  Status synced = options_.before_sync ? options_.before_sync() : Status{};
  if (synced) synced = tail->sync();
  if (!synced) return fail(synced.error());
  if (auto st = tail->write_index(); !st) return st;
  auto seg = Segment::create(dir_, next_base);
  if (!seg) return tl::unexpected(seg.error());
  std::unique_lock lock(mu_);
  segments_.push_back(std::move(*seg));
  return {};
}

Result<AppendResult> ShardLog::append(std::span<const AppendRecord> records, TimestampMs now) {
  if (records.empty()) return make_error(Errc::kInvalidArgument, "empty append");
  if (sealed_) return make_error(Errc::kInvalidArgument, "the shard is closed: its log takes no more records");
  if (failed_) return failure();
  std::lock_guard guard(append_mu_);
  const TimestampMs arrival = std::max(now, last_arrival_.load());
  const Offset base = written_.load();
  {
    const auto& tail = segments_.back();
    const bool too_big = tail->size_bytes() >= options_.segment_bytes;
    const bool too_old = !tail->empty() && arrival - tail->first_arrival_ms() >= options_.segment_ms;
    if (too_big || too_old) {
      if (auto st = roll(base); !st) return tl::unexpected(st.error());
    }
  }
  scratch_.clear();
  encode_batch(base, arrival, records, scratch_);
  {
    std::unique_lock lock(mu_);
    if (auto st = segments_.back()->append(scratch_, base, static_cast<uint32_t>(records.size()), arrival,
                                           options_.index_interval_bytes);
        !st) {
      return tl::unexpected(st.error());
    }
  }
  last_arrival_ = arrival;
  written_ = base + records.size();
  if (!options_.visible_after_sync) {
    visible_ = written_.load();
    readable().notify();
  }
  return AppendResult{base, static_cast<uint32_t>(records.size()), arrival};
}

Status ShardLog::sync() {
  std::lock_guard guard(sync_mu_);
  if (failed_) return failure();
  std::shared_ptr<Segment> tail;
  Offset target;
  {
    // Taken under the append lock so `target` covers exactly the bytes in `tail`; rolls sync the
    // segment they seal, so earlier segments are already durable.
    std::lock_guard append_guard(append_mu_);
    tail = segments_.back();
    target = written_.load();
  }
  Status st = options_.before_sync ? options_.before_sync() : Status{};
  if (st) st = tail->sync();
  if (!st) return fail(st.error());
  synced_ = target;
  Offset cur = visible_.load();
  bool advanced = false;
  while (cur < target && !(advanced = visible_.compare_exchange_weak(cur, target))) {
  }
  if (advanced) readable().notify();
  return {};
}

std::shared_ptr<Segment> ShardLog::segment_for(Offset offset) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](Offset o, const auto& s) { return o < s->base_offset(); });
  if (it == segments_.begin()) return segments_.front();
  return *std::prev(it);
}

Offset ShardLog::start_offset() const {
  std::shared_lock lock(mu_);
  return segments_.front()->base_offset();
}

Offset ShardLog::end_offset() const {
  return visible_.load();
}

TimestampMs ShardLog::last_arrival_ms() const {
  return last_arrival_.load();
}

std::optional<TimestampMs> ShardLog::oldest_arrival_ms() const {
  std::shared_lock lock(mu_);
  for (const auto& s : segments_) {
    if (!s->empty()) return s->first_arrival_ms();
  }
  return std::nullopt;
}

namespace {

// A read copies the segment file's bytes into buffers of its own (pread) rather than reading a
// shared mapping of the file: each page of a mapping costs a page-table entry to fill, on a virtual
// machine much more than copying the page, and the checksum and the parse that follow find a
// fresh buffer in the CPU's cache. The first read goes as far as the sparse index shows the last
// wanted record to end; past that segment, each next buffer doubles, up to a size at which system
// calls cost nothing measurable. Buffers are not zeroed first: pread fills what is used.
constexpr uint64_t kFirstChunk = 64u << 10;
constexpr uint64_t kLargestChunk = 1u << 20;

struct ReadBuffer {
  std::unique_ptr<char[]> bytes;
  size_t size = 0;
  std::string_view view() const { return {bytes.get(), size}; }
};

}  // namespace

Result<ReadResult> ShardLog::read(Offset from, size_t max_records, size_t max_bytes) const {
  ReadResult result;
  result.records.reserve(std::min<size_t>(max_records, 16384));
  const Offset end = visible_.load();
  std::vector<std::shared_ptr<Segment>> segs;
  uint64_t position = 0;
  uint64_t until = 0;  // in the first segment: where the batch of the last wanted record ends at the latest
  {
    std::shared_lock lock(mu_);
    from = std::max(from, segments_.front()->base_offset());
    auto it = std::upper_bound(segments_.begin(), segments_.end(), from,
                               [](Offset o, const auto& s) { return o < s->base_offset(); });
    if (it != segments_.begin()) --it;
    segs.assign(it, segments_.end());
    position = segs.front()->seek_offset(from);
    const Offset last = max_records == 0 ? from : from + std::min<uint64_t>(max_records - 1, UINT64_MAX - from);
    until = segs.front()->seek_past(last);
  }
  result.next_offset = from;
  if (from >= end) return result;

  size_t bytes = 0;
  uint64_t chunk_size = kFirstChunk;
  std::vector<RecordView> batch_records;
  for (size_t si = 0; si < segs.size(); ++si) {
    const auto& seg = segs[si];
    if (si > 0) {
      position = 0;
      until = 0;
    }
    uint64_t seg_size;
    {
      std::shared_lock lock(mu_);
      seg_size = seg->size_bytes();
    }
    std::shared_ptr<ReadBuffer> chunk;  // bytes [chunk_at, chunk_at + size) of the file
    uint64_t chunk_at = 0;
    while (position < seg_size) {
      BatchHeader h{};
      std::string_view rest;
      if (chunk && position >= chunk_at && position - chunk_at < chunk->size) {
        rest = chunk->view().substr(position - chunk_at);
      }
      bool header = decode_batch_header(rest, h);
      // The next batch not whole in the buffer: read on from it (twice when the first read shows a
      // batch larger than the buffer).
      for (int attempt = 0; attempt < 2 && !(header && h.total_bytes() <= rest.size()); ++attempt) {
        uint64_t want = until > position ? std::min(until - position, kLargestChunk) : chunk_size;
        if (until <= position) chunk_size = std::min(chunk_size * 2, kLargestChunk);
        want = std::min(std::max<uint64_t>(want, header ? h.total_bytes() : kBatchHeaderBytes), seg_size - position);
        auto next = std::make_shared<ReadBuffer>();
        next->bytes = std::make_unique_for_overwrite<char[]>(want);
        auto got = seg->read_into(position, next->bytes.get(), want);
        if (!got) {
          // A segment retention dropped while this read began (its file gone before it was
          // read) holds nothing to return any more: read on from the next one.
          std::shared_lock lock(mu_);
          if (std::find(segments_.begin(), segments_.end(), seg) == segments_.end()) break;
          return tl::unexpected(got.error());
        }
        next->size = *got;
        chunk = std::move(next);
        chunk_at = position;
        result.keep_alive.push_back(chunk);
        rest = chunk->view();
        header = decode_batch_header(rest, h);
      }
      if (!header || h.total_bytes() > rest.size()) break;  // the file ends short of its size
      if (h.base_offset >= end) return result;
      if (h.base_offset + h.count <= from) {  // a whole batch before the start: skip unparsed
        position += h.total_bytes();
        continue;
      }
      batch_records.clear();
      if (!decode_batch(rest.substr(0, h.total_bytes()), h, batch_records)) {
        return make_error(Errc::kCorruption,
                          "corrupt batch at byte " + std::to_string(position) + " of " + seg->path().string());
      }
      for (const auto& r : batch_records) {
        if (r.offset < from) continue;
        if (r.offset >= end || result.records.size() >= max_records) return result;
        const size_t size = r.data.size() + r.partition_key.size();
        if (bytes + size > max_bytes && !result.records.empty()) return result;
        bytes += size;
        result.records.push_back(r);
        result.next_offset = r.offset + 1;
      }
      position += h.total_bytes();
    }
    if (result.next_offset >= end) return result;
  }
  return result;
}

Result<Offset> ShardLog::offset_for_time(TimestampMs ts) const {
  const Offset end = visible_.load();
  std::shared_ptr<Segment> seg;
  uint64_t position = 0;
  {
    std::shared_lock lock(mu_);
    auto it = std::find_if(segments_.begin(), segments_.end(),
                           [ts](const auto& s) { return !s->empty() && s->last_arrival_ms() >= ts; });
    if (it == segments_.end()) return end;
    seg = *it;
    position = seg->seek_time(ts);
  }
  // Scan forward from the indexed batch: at most index_interval_bytes plus one batch.
  for (;;) {
    std::string buf;
    if (auto st = seg->read_at(position, position + kBatchHeaderBytes, buf); !st) return tl::unexpected(st.error());
    BatchHeader h{};
    if (!decode_batch_header(buf, h)) return std::min(seg->next_offset(), end);
    if (h.arrival_ms >= ts || h.base_offset >= end) return std::min(h.base_offset, end);
    position += h.total_bytes();
  }
}

Result<TimestampMs> ShardLog::arrival_of(Offset offset) const {
  auto r = read(offset, 1, SIZE_MAX);
  if (!r) return tl::unexpected(r.error());
  if (r->records.empty() || r->records.front().offset != offset) {
    return make_error(Errc::kInvalidArgument, "offset not retained");
  }
  return r->records.front().arrival_ms;
}

Status ShardLog::drop_segments_before(TimestampMs cutoff) {
  std::vector<std::shared_ptr<Segment>> dropped;
  {
    std::lock_guard guard(append_mu_);
    std::unique_lock lock(mu_);
    // The active segment stays; if it is entirely expired, rolling lets it go next time.
    while (segments_.size() > 1 && segments_.front()->last_arrival_ms() < cutoff) {
      dropped.push_back(segments_.front());
      segments_.erase(segments_.begin());
    }
    if (segments_.size() == 1 && !segments_.back()->empty() && segments_.back()->last_arrival_ms() < cutoff) {
      lock.unlock();
      if (auto st = roll(written_.load()); !st) return st;
      lock.lock();
      dropped.push_back(segments_.front());
      segments_.erase(segments_.begin());
    }
  }
  // Readers holding a dropped segment keep its descriptor open; unlinking is safe under them.
  for (const auto& s : dropped) s->remove_files();
  if (!dropped.empty()) return fsync_dir(dir_);
  return {};
}

void ShardLog::destroy() {
  std::unique_lock lock(mu_);
  for (const auto& s : segments_) s->remove_files();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace eddy::log
