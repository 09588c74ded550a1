#include "host/application_runner.h"
#include "common/logging.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace eddy::host {

using runtime::BatchSource;
using runtime::SourceRecord;

namespace {

// The records as the program takes them. Every record was copied into a padded buffer
// (copy_records): parsed in place.
void append_records(const std::vector<SourceCopy>& records, std::vector<SourceRecord>& out) {
  for (const auto& p : records)
    out.push_back(
        {p.data, p.arrival, static_cast<int64_t>(p.offset), p.shard, p.rejection(), p.rejection_name(), true});
}

// Wall-clock progress closes windows this long after their end: enough for records appended just
// before the end to become readable (an fsync), short enough that a quiet store's row is prompt.
constexpr TimestampMs kProgressGraceMs = 250;
// An idle application looks for new records this often (the latency floor for results).
constexpr auto kIdlePoll = std::chrono::milliseconds(10);
}  // namespace

ApplicationRunner::ApplicationRunner(Setup setup, std::unique_ptr<runtime::Program> program, stream::StreamStore& store,
                                     log::GroupCommitter& committer, DeliveryOutput delivery, const Clock& clock)
    : setup_(std::move(setup)),
      program_(std::move(program)),
      clock_(clock),
      pool_(setup_.threads),
      reader_(store, setup_.source, pool_),
      outputs_(store, committer, std::move(delivery),
               OutputContext{[this](const char* level, const char* name, const std::string& message) {
                               report(level, name, message);
                             },
                             [this](std::chrono::milliseconds d) { pause(d); }, &stop_}) {
  if (setup_.preprocess) reader_.set_whole_records(true);
  program_->subscribe_errors([this](std::string row) {
    counters_.error_rows.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    errors_.push(std::move(row));
  });
}

ApplicationRunner::~ApplicationRunner() {
  stop();
}

Status ApplicationRunner::add_output(const std::string& output, const std::string& target, bool delivery, bool csv) {
  auto& d = outputs_.add(setup_.name, output, target, delivery, csv);
  return program_->subscribe_records(output, csv, [this, &d](std::string row) {
    counters_.output_rows.fetch_add(1, std::memory_order_relaxed);
    d.pending.push_back(std::move(row));
  });
}

Status ApplicationRunner::restore(const Checkpoint& c) {
  reader_.resume(c.positions, {c.finished.begin(), c.finished.end()});
  auto notes = program_->load_state(c.state);
  if (!notes) {
    return make_error(Errc::kInvalidApplicationConfiguration, "the state in the checkpoint of " + setup_.name +
                                                                  " cannot be loaded (" + notes.error().message +
                                                                  "); start it with NOW or TRIM_HORIZON to start over");
  }
  // Code changed by UpdateApplication: the state it could not keep is reported, not silently lost.
  for (const auto& note : *notes) {
    std::fprintf(stderr, "eddy: application %s: %s\n", setup_.name.c_str(), note.c_str());
    report("WARNING", "State_Not_Restored", note);
  }
  if (auto st = outputs_.restore(c); !st) return st;
  restored_ = true;
  // The checkpoint a restart would go back to is this one until the next is taken.
  counters_.last_checkpoint_ms.store(c.taken_ms, std::memory_order_relaxed);
  return {};
}

void ApplicationRunner::resume(std::map<uint32_t, uint64_t> positions, std::set<uint32_t> finished) {
  reader_.resume(std::move(positions), std::move(finished));
}

void ApplicationRunner::begin() {
  begun_ = true;
  // A fresh start replaces the checkpoint of an earlier run at once: a crash must not go back to it.
  if (!restored_) checkpoint();
  last_checkpoint_ = clock_.now_ms();
}

size_t ApplicationRunner::step() {
  if (!begun_) begin();
  size_t processed = 0;
  if (auto active = reader_.begin_round()) {
    if (*active != active_shards_) {
      active_shards_ = std::move(*active);
      program_->set_source_shards(0, active_shards_);
    }
    const size_t read_batch = setup_.read_batch ? setup_.read_batch->load() : 2000;
    std::vector<SourceBatch> batches;
    std::optional<std::pair<uint32_t, uint64_t>> sole;
    if (pending_.empty() && pool_.size() > 1 && !setup_.preprocess) sole = reader_.sole_shard();
    if (sole) {
      push_ranges(sole->first, sole->second, read_batch, processed);
    } else if (pending_.empty()) {
      reader_.read(read_batch);
      batches = reader_.take(read_batch, stop_);
      // One thread: the next round's records are read while the program runs this one's.
      if (!batches.empty() && pool_.size() == 1) reader_.read_ahead(read_batch);
    } else if (clock_.now_ms() >= retry_at_) {
      batches = std::move(pending_);
      pending_.clear();
    }
    if (!sole && (!setup_.preprocess || preprocess(batches))) push(std::move(batches), processed);
  }
  if (processed == 0) program_->advance_time(clock_.now_ms() - kProgressGraceMs);
  counters_.millis_behind_latest =
      processed == 0 ? 0 : std::max<int64_t>(0, clock_.now_ms() - counters_.last_arrival_ms);
  counters_.watermark_ms.store(program_->watermark().value_or(INT64_MIN), std::memory_order_relaxed);
  if (setup_.owns && !setup_.owns()) {
    // Another node may be taking over: write nothing, so its outputs stay exactly once. The host
    // stops this runner when the lease is lost for good.
    report("ERROR", "Lease_Lost", "this node no longer holds the application's lease; it writes nothing");
    return processed;
  }
  bool healthy = outputs_.write();
  // Records held for a retry of their preprocessing are behind the reader's positions: no
  // checkpoint may pass them until they went through.
  if (pending_.empty() && clock_.now_ms() - last_checkpoint_ >= setup_.checkpoint_interval_ms) {
    checkpoint_failed_ = !checkpoint();
    last_checkpoint_ = clock_.now_ms();
  }
  // Records waiting for their preprocessing keep the fault their failed invocation reported.
  if (healthy && !checkpoint_failed_ && pending_.empty()) clear_fault();
  return processed;
}

// The records in ROWTIME order, in batches: the program parses and maps them on the runner's
// pool of threads (--parallelism) and runs them through its operators in order.
void ApplicationRunner::push(std::vector<SourceBatch> batches, size_t& processed) {
  if (batches.empty()) return;
  // With InputParallelism n, shard i feeds in-application stream (i mod n) + 1.
  auto sources = [](const SourceBatch& batch, std::vector<SourceRecord>& out) { append_records(batch.records, out); };
  auto count = [&](const SourceBatch& batch) {
    count_taken(batch.records.size(), batch.records.back().arrival, processed);
  };
  if (batches.size() == 1 || pool_.size() == 1) {
    // One batch: its records parsed on every thread, then run through.
    std::vector<SourceRecord> records;
    for (const auto& batch : batches) {
      records.clear();
      sources(batch, records);
      program_->push_records(0, records, pool_);
      count(batch);
    }
    return;
  }
  // Several: each on one thread from parsing to operators, taking turns for those.
  size_t next = 0;
  std::vector<size_t> taken_by(pool_.size());
  BatchSource source;
  source.claim = [&](size_t k) {
    if (next == batches.size()) return false;
    taken_by[k] = next++;
    return true;
  };
  source.fill = [&](size_t k, std::vector<SourceRecord>& out) { sources(batches[taken_by[k]], out); };
  source.done = [&](size_t k, const std::vector<SourceRecord>&, size_t) {
    count(batches[taken_by[k]]);
    return true;
  };
  program_->push_batches(0, pool_, source);
}

// Several threads and one shard to read: each thread reads the shard's next range itself,
// parses and maps it, and in its turn runs it through the program, as `sql run` reads the blocks
// of a file. A range is taken only if it starts where the last one taken ended and that one was
// full: what reading them one after the other would take.
void ApplicationRunner::push_ranges(uint32_t shard, uint64_t from, size_t read_batch, size_t& processed) {
  const size_t ranges = kRangesPerThread * pool_.size();
  std::vector<RangeRead> slots(pool_.size());
  std::vector<char> taken(pool_.size());
  size_t claimed = 0;              // under take_turns' claim lock
  std::atomic<bool> ended{false};  // set in a turn, read by claims
  uint64_t next = from;            // in turns only, as are the two below
  bool more = true, finished = false, any = false;
  runtime::BatchSource source;
  source.claim = [&](size_t k) {
    if (ended.load() || stop_ || claimed == ranges) return false;
    slots[k] = RangeRead{shard, from + claimed * read_batch};
    ++claimed;
    return true;
  };
  source.fill = [&](size_t k, std::vector<SourceRecord>& out) {
    RangeRead& rd = slots[k];
    read_range(reader_.store(), reader_.stream(), rd, read_batch, reader_.whole_records());
    append_records(rd.records, out);
  };
  source.before = [&](size_t k, std::vector<SourceRecord>& records) {
    const RangeRead& rd = slots[k];
    taken[k] = rd.ok && rd.from == next && more && !finished;
    if (!taken[k]) records.clear();
  };
  source.done = [&](size_t k, const std::vector<SourceRecord>& records, size_t) {
    const RangeRead& rd = slots[k];
    if (!taken[k]) {
      ended = true;
      return false;
    }
    any = true;
    next = rd.next;
    more = rd.read_count == read_batch;
    finished = rd.finished;
    if (!records.empty()) count_taken(records.size(), records.back().arrival, processed);
    if (!more || finished) ended = true;
    return !ended.load();
  };
  program_->push_batches(0, pool_, source);
  if (any) reader_.advance(shard, next, more, finished);
}

void ApplicationRunner::count_taken(size_t records, TimestampMs last_arrival, size_t& processed) {
  counters_.input_records.fetch_add(records, std::memory_order_relaxed);
  counters_.last_arrival_ms.store(last_arrival, std::memory_order_relaxed);
  processed += records;
}

// A checkpoint: where reading continues (the first unprocessed record of each shard), the state
// after the records before it, and the outputs' ordinals, unwritten rows and ends.
Checkpoint ApplicationRunner::take_checkpoint() {
  Checkpoint c;
  c.taken_ms = clock_.now_ms();
  c.positions = reader_.checkpoint_positions();
  c.finished = reader_.checkpoint_finished();
  c.state = program_->save_state();
  c.outputs = outputs_.checkpoint();
  return c;
}

bool ApplicationRunner::checkpoint() {
  const Checkpoint c = take_checkpoint();
  bool ok = true;
  if (auto st = setup_.checkpoints->write(setup_.name, c); !st) {
    report("ERROR", "Checkpoint_Error", st.error().message);
    ok = false;
  } else {
    counters_.last_checkpoint_ms.store(c.taken_ms, std::memory_order_relaxed);
  }
  // The checkpoint holds the positions a restart uses; the host's copy is for a stopped
  // application's LAST_STOPPED_POINT, so a failure here is reported and the next one retries.
  if (setup_.on_checkpoint) {
    if (auto saved = setup_.on_checkpoint(c); !saved) {
      report("ERROR", "Checkpoint_Error", "saving the application's positions: " + saved.error().message);
      ok = false;
    }
  }
  return ok;
}

Status ApplicationRunner::save_start_point() {
  return setup_.checkpoints->write(setup_.name, take_checkpoint());
}

void ApplicationRunner::finish() {
  if (finished_) return;
  finished_ = true;
  // Rows not yet written stay pending in the checkpoint, for the next run to write. Not once
  // another node owns the application: its checkpoint is the one that counts.
  // Records still waiting for their preprocessing are behind the reader's positions: the last
  // checkpoint stays the one before them, and the next run reads them again.
  if (begun_ && pending_.empty() && (!setup_.owns || setup_.owns())) checkpoint();
}

void ApplicationRunner::start_thread() {
  thread_ = std::thread([this] {
    while (!stop_) {
      if (step() == 0) pause(kIdlePoll);
    }
    finish();
  });
}

void ApplicationRunner::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  else
    finish();
}

void ApplicationRunner::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

void ApplicationRunner::report(const char* level, const char* error_name, const std::string& message) {
  nlohmann::json row = {{"ERROR_LEVEL", level}, {"ERROR_NAME", error_name}, {"MESSAGE", message}};
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    errors_.push(row.dump());
    // An error of the runner's own (not of a record) stops progress until a round clears it.
    // A record's error goes to the error stream; the log gets it only at debug level, since a
    // stream of bad records would otherwise write a line per record.
    if (std::string_view(level) != "ERROR") {
      if (log_enabled(LogLevel::kDebug)) {
        log_event(LogLevel::kDebug, "application", message, {{"application", setup_.name}, {"error", error_name}});
      }
      return;
    }
    changed = !fault_ || fault_->reason != message;
    if (!fault_) fault_ = Fault{message, clock_.now_ms()};
    fault_->reason = message;
  }
  if (changed) {
    log_error("application", "cannot make progress (retrying): " + message,
              {{"application", setup_.name}, {"error", error_name}});
  }
  if (changed && setup_.fault_changed) setup_.fault_changed(*this);
}

void ApplicationRunner::clear_fault() {
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    changed = fault_.has_value();
    fault_.reset();
  }
  if (changed) log_info("application", "making progress again", {{"application", setup_.name}});
  if (changed && setup_.fault_changed) setup_.fault_changed(*this);
}

std::vector<std::string> ApplicationRunner::errors() const {
  std::lock_guard lock(mu_);
  return errors_.rows();
}

std::optional<ApplicationRunner::Fault> ApplicationRunner::fault() const {
  std::lock_guard lock(mu_);
  return fault_;
}

}  // namespace eddy::host
