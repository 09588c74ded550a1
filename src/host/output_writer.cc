#include "host/output_writer.h"

#include <algorithm>
#include <charconv>
#include <future>

namespace eddy::host {

namespace {
constexpr size_t kReadBatch = 2000;
constexpr size_t kWriteBatch = 500;  // rows per PutRecords into a destination stream
}  // namespace

OutputWriter::Destination& OutputWriter::add(const std::string& application, const std::string& output,
                                             const std::string& target, bool delivery, bool csv) {
  auto d = std::make_unique<Destination>();
  d->stream = target;
  d->delivery = delivery;
  d->csv = csv;
  d->output = output;
  d->key = output + " -> " + (delivery ? "firehose:" : "") + target;
  d->key_prefix = application + "/" + output + ":";
  destinations_.push_back(std::move(d));
  return *destinations_.back();
}

Status OutputWriter::restore(const Checkpoint& c) {
  for (auto& d : destinations_) {
    auto it =
        std::find_if(c.outputs.begin(), c.outputs.end(), [&](const OutputCheckpoint& o) { return o.key == d->key; });
    if (it == c.outputs.end()) continue;  // an output added since
    d->ordinal = it->next_ordinal;
    d->pending = it->pending;
    d->marks = it->ends;
    if (auto st = collect_written(*d); !st) {
      return make_error(Errc::kInvalidApplicationConfiguration, "output " + d->key + ": " + st.error().message);
    }
  }
  return {};
}

// The rows written since the checkpoint: after its marks, with this output's keys.
Status OutputWriter::collect_written(Destination& d) {
  auto collect = [&d](std::string_view key, std::string_view row) {
    if (!key.starts_with(d.key_prefix)) return;
    uint64_t ordinal = 0;
    const auto digits = key.substr(d.key_prefix.size());
    if (std::from_chars(digits.data(), digits.data() + digits.size(), ordinal).ec != std::errc{}) return;
    if (ordinal < d.ordinal) return;
    ++d.written[std::string(row)];
    d.written_through = std::max(d.written_through, ordinal);
  };
  if (d.delivery) {
    const auto m = d.marks.find(0);
    return delivery_.scan(d.stream, m == d.marks.end() ? 0 : m->second, collect);
  }
  auto shards = store_.shards(d.stream);
  if (!shards) return tl::unexpected(shards.error());
  for (const auto& s : *shards) {
    auto m = d.marks.find(s.index);
    uint64_t from = m == d.marks.end() ? 0 : m->second;  // a shard made since: all of it
    for (;;) {
      auto read = store_.read_shard(d.stream, s.index, from, kReadBatch);
      if (!read || read->read.records.empty()) break;
      for (const auto& rec : read->read.records) collect(rec.partition_key, rec.data);
      from = read->next;
    }
  }
  return {};
}

bool OutputWriter::write() {
  const auto& stop = *context_.stop;
  const auto& report = context_.report;
  bool ok = true;
  for (auto& d : destinations_) {
    size_t done = 0;
    while (done < d->pending.size() && !stop) {
      // A replay after a crash: rows written before it are passed over (their ordinals too).
      size_t n = std::min<size_t>(kWriteBatch, d->pending.size() - done);
      if (!d->written.empty() && d->ordinal > d->written_through) {
        size_t left = 0;
        for (const auto& [_, count] : d->written) left += count;
        report("WARNING", "Replay_Mismatch",
               std::to_string(left) + " row(s) of " + d->key +
                   " written before the restart were not produced again by the replay " +
                   "(they depended on more than the records: a window closed by the wall clock before a late record)");
        d->written.clear();
      }
      if (!d->written.empty()) {
        auto w = d->written.find(d->pending[done]);
        if (w != d->written.end()) {
          if (--w->second == 0) d->written.erase(w);
          ++d->ordinal;
          ++done;
          continue;
        }
        n = 1;  // not written before the restart: written now, one at a time until the replay is past
      }
      std::vector<std::string> keys(n);
      for (size_t i = 0; i < n; ++i) keys[i] = d->key_prefix + std::to_string(d->ordinal + i);
      if (d->delivery) {
        // The delivery stream journals the rows durably; on refusal they are kept and retried.
        const std::vector<std::string_view> rows(d->pending.begin() + static_cast<long>(done),
                                                 d->pending.begin() + static_cast<long>(done + n));
        if (auto st = delivery_.put(d->stream, rows, {keys.begin(), keys.end()}); !st) {
          report("ERROR", "Output_Error", st.error().message);
          ok = false;
          break;
        }
        d->ordinal += n;
        done += n;
        continue;
      }
      std::vector<stream::PutEntry> entries(n);
      for (size_t i = 0; i < n; ++i) entries[i] = {keys[i], "", d->pending[done + i]};
      auto put = store_.put(d->stream, entries);
      if (!put) {
        // The destination is gone or refuses: report, and keep the rows for a later attempt.
        report("ERROR", "Output_Error", put.error().message);
        ok = false;
        break;
      }
      // Durable before the ordinals move on. A failed fsync is reported and tried again; no row
      // after these is written meanwhile. A stop in that state leaves the ordinals where they
      // were: the restart's replay finds whichever of these rows did reach the stream.
      auto durable = [&] {
        std::promise<Status> committed;
        committer_.commit(put->touched, [&committed](Status st) { committed.set_value(st); });
        return committed.get_future().get();
      };
      Status synced = durable();
      while (!synced && !stop) {
        ok = false;
        report("ERROR", "Output_Error",
               "rows written to stream " + d->stream + " are not durable (" + synced.error().message +
                   "); retrying, and nothing after them is written until they are");
        context_.pause(std::chrono::seconds(1));
        synced = durable();
      }
      if (!synced) break;
      d->ordinal += n;
      // Throttled entries (with --enforce-limits) are sent again after a pause, under new
      // ordinals: never dropped.
      std::vector<std::string> retry;
      for (size_t i = 0; i < n; ++i) {
        if (!put->outcomes[i].ok) retry.push_back(std::move(d->pending[done + i]));
      }
      if (!retry.empty()) {
        d->pending.erase(d->pending.begin(), d->pending.begin() + static_cast<long>(done + n));
        d->pending.insert(d->pending.begin(), retry.begin(), retry.end());
        done = 0;
        context_.pause(std::chrono::milliseconds(100));
        continue;
      }
      done += n;
    }
    d->pending.erase(d->pending.begin(), d->pending.begin() + static_cast<long>(std::min(done, d->pending.size())));
  }
  return ok;
}

std::vector<OutputCheckpoint> OutputWriter::checkpoint() {
  std::vector<OutputCheckpoint> out;
  for (auto& d : destinations_) {
    // While a replay is being matched, the marks it was found from stay in effect.
    if (d->delivery && d->written.empty()) {
      if (auto end = delivery_.end(d->stream)) d->marks = {{0, *end}};
    } else if (d->written.empty()) {
      std::map<uint32_t, uint64_t> ends;
      if (auto shards = store_.shards(d->stream)) {
        for (const auto& s : *shards) {
          if (auto p = store_.shard_position(d->stream, s.index, stream::IteratorType::kLatest)) ends[s.index] = *p;
        }
      }
      d->marks = std::move(ends);
    }
    out.push_back({d->key, d->ordinal, d->marks, d->pending});
  }
  return out;
}

}  // namespace eddy::host
