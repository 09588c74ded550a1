#include "runtime/keyed_pump.h"

#include <algorithm>
#include <climits>

#include "runtime/pump_internal.h"

namespace eddy::runtime {

std::vector<size_t> partition_columns(const PumpPlan& plan) {
  std::vector<size_t> columns;
  switch (plan.mode) {
    case PumpMode::kTumbling:
      // ROWTIME windows only: their partitions close a window when ROWTIME passes its end, as
      // one pump does; a window key of another column closes on the next key, which a partition
      // would see at other rows.
      if (!plan.window_on_rowtime || plan.window_key < 0) return {};
      for (size_t k = 0; k < plan.keys.size(); ++k) {
        const int c = plan.keys[k]->column_index();
        if (static_cast<int>(k) != plan.window_key && c >= 0) columns.push_back(static_cast<size_t>(c));
      }
      break;
    case PumpMode::kSliding:
      for (size_t w = 0; w < plan.windows.size(); ++w) {
        std::vector<size_t> these;
        for (const auto& e : plan.windows[w].partition_by) {
          if (e->column_index() < 0) return {};
          these.push_back(static_cast<size_t>(e->column_index()));
        }
        if (these.empty() || (w > 0 && these != columns)) return {};
        columns = std::move(these);
      }
      break;
    case PumpMode::kEventWindow:
      if (plan.event.kind == EventWindowSpec::Kind::kSession || plan.event.top_n > 0) return {};
      for (const auto& k : plan.keys) {
        const int c = k->column_index();
        if (c >= 0 && static_cast<size_t>(c) < plan.event.source_width) columns.push_back(static_cast<size_t>(c));
      }
      break;
    default:
      return {};
  }
  return columns;
}

namespace {

constexpr TimestampMs kNone = INT64_MIN;
// Fewer rows than this in a drain run on the calling thread: waking the workers costs more.
constexpr size_t kParallelRows = 256;

void copy_row(Row& to, const Row& from) {
  to.rowtime = from.rowtime;
  to.origin = from.origin;
  to.shard = from.shard;
  to.values.resize(from.values.size());
  for (size_t i = 0; i < from.values.size(); ++i) to.values[i].set(from.values[i]);
}

class KeyedPump final : public Pump {
 public:
  KeyedPump(std::unique_ptr<PumpPlan> plan, std::vector<std::unique_ptr<PumpPlan>> worker_plans,
            std::vector<size_t> columns, EmitFn emit, ErrorFn error, const Clock& clock, WorkerPool* pool)
      : Pump(std::move(plan), std::move(emit), std::move(error), clock), columns_(std::move(columns)), pool_(pool) {
    workers_.resize(worker_plans.size());  // never resized again: the groups' callbacks index it
    std::vector<std::shared_ptr<const PumpPlan>> plans;
    for (auto& p : worker_plans) {
      p->where.reset();  // WHERE is evaluated here, once
      plans.emplace_back(std::move(p));
    }
    groups_.resize(kKeyGroups);
    for (size_t g = 0; g < kKeyGroups; ++g) {
      Worker& w = workers_[g % workers_.size()];
      groups_[g] = make_pump(
          plans[g % plans.size()], [this, &w, g](const Row& row) { w.emitted(row, groups_[g]->emit_order()); },
          [this, &w, g](const Row& row, const Error& e) {
            w.failures.push_back({groups_[g]->ordinal(), row, e});
          },
          clock);
      groups_[g]->set_partition();
    }
    active_.assign(kKeyGroups, 0);
    for (size_t g = 0; g < kKeyGroups; ++g) worker_of_.push_back(&workers_[g % workers_.size()]);
    if (pool_ && pool_->size() < workers_.size()) pool_ = nullptr;
    inline_ = workers_.size() == 1;  // one thread: nothing to wait for
  }

  void on_row(const Row& row) override {
    if (!uses_event_time(*plan_)) {
      if (plan_->where && !passes(row)) return;
      // A tumbling group's first window ends no earlier than before, unless ROWTIME went back.
      const bool back = row.rowtime < time_;
      if (plan_->mode == PumpMode::kTumbling && !back) time_ = row.rowtime;
      return take(row, group_of(row), kNone, back || plan_->mode != PumpMode::kTumbling);
    }
    const auto& ev = plan_->event;
    const Value& t = row.values[ev.time_column];
    if (t.is_null()) return take(row, 0, kNone, true);  // its group reports it, in its turn
    if (passes(row)) take(row, group_of(row), marks_.have ? marks_.watermark : kNone, true);
    marks_.row(row.shard, t.i, clock_.now_ms());
    (void)marks_.advance(clock_.now_ms(), ev.idle_timeout_ms, ev.watermark_delay_ms);
  }

  void on_time(TimestampMs t) override {
    if (plan_->mode == PumpMode::kTumbling && plan_->window_on_rowtime) {
      time_ = std::max(time_, t);
      dirty_ = true;
    } else if (uses_event_time(*plan_) && plan_->event.idle_timeout_ms > 0) {
      const auto& ev = plan_->event;
      dirty_ |= marks_.advance(clock_.now_ms(), ev.idle_timeout_ms, ev.watermark_delay_ms);
    }
  }

  void flush() override {
    flushing_ = true;
    dirty_ = true;
    drain();
    flushing_ = false;
  }

  void on_source_shards(const std::vector<uint32_t>& shards) override {
    if (!uses_event_time(*plan_)) return;
    const auto& ev = plan_->event;
    marks_.set_shards(shards, clock_.now_ms());
    (void)marks_.advance(clock_.now_ms(), ev.idle_timeout_ms, ev.watermark_delay_ms);
    dirty_ = true;
  }

  std::optional<TimestampMs> event_watermark() const override {
    if (!uses_event_time(*plan_) || !marks_.have) return std::nullopt;
    return marks_.watermark;
  }

  void set_inline(bool on) override {
    if (on) drain();
    inline_ = on || workers_.size() == 1;
  }

  size_t buffered() const override {
    size_t n = 0;
    for (const auto& w : workers_) n += w.used;
    return n;
  }

  void drain() override {
    if (!dirty_) return;
    dirty_ = false;
    auto run = [this](size_t w) { run_worker(w); };
    if (pool_ && workers_.size() > 1 && buffered() >= kParallelRows) {
      pool_->run(workers_.size(), run);
    } else {
      for (size_t w = 0; w < workers_.size(); ++w) run(w);
    }
    for (const auto& worker : workers_) {
      if (worker.out_used || !worker.failures.empty()) return emit_in_order();
    }
  }

  // The key groups, not the threads: a checkpoint loads into any parallelism.
  std::string state_shape() const override {
    return Pump::state_shape() + "; key groups " + std::to_string(kKeyGroups);
  }

 protected:
  void save_more(StateWriter& w) const override {
    w.u64(next_ordinal_);
    w.i64(time_);
    marks_.save_shards(w);
    w.i64(marks_.watermark);
    w.boolean(marks_.have);
    w.u64(groups_.size());
    for (const auto& g : groups_) {
      StateWriter own;
      g->save_state(own);
      w.str(own.bytes());
    }
    std::vector<const Entry*> pending;  // rows not run yet (a checkpoint between drains)
    for (const auto& worker : workers_) {
      for (size_t i = 0; i < worker.used; ++i) pending.push_back(&worker.rows[i]);
    }
    std::sort(pending.begin(), pending.end(), [](const Entry* a, const Entry* b) { return a->ordinal < b->ordinal; });
    w.u64(pending.size());
    for (const Entry* e : pending) {
      w.u64(e->group);
      w.row(e->row);
      w.u64(e->ordinal);
      w.i64(e->watermark);
    }
  }

  void load_more(StateReader& r) override {
    next_ordinal_ = r.u64();
    time_ = r.i64();
    marks_.load_shards(r);
    marks_.watermark = r.i64();
    marks_.have = r.boolean();
    if (r.count() != groups_.size()) return r.fail();
    for (auto& g : groups_) {
      const std::string bytes = r.str();  // the reader keeps a view of it
      StateReader own(bytes);
      if (!g->load_state(own) || !own.done()) return r.fail();
    }
    for (auto& worker : workers_) {
      worker.used = 0;
      worker.active.clear();
      worker.due = INT64_MIN;
    }
    active_.assign(groups_.size(), 0);
    for (size_t g = 0; g < groups_.size(); ++g) {
      if (groups_[g]->waits_for_time()) activate(g);
    }
    const size_t n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      const uint64_t group = r.u64();
      if (group >= groups_.size()) return r.fail();
      activate(group);
      Entry& e = workers_[group % workers_.size()].next_entry();
      e.group = static_cast<uint32_t>(group);
      e.row = r.row();
      e.ordinal = r.u64();
      e.watermark = r.i64();
    }
    dirty_ = true;
  }

 private:
  // Flink's key groups: a key's state lives in group hash(key) % kKeyGroups whatever the
  // parallelism, and group g runs on worker g % N, so a checkpoint taken at one parallelism
  // resumes at another.
  static constexpr size_t kKeyGroups = 128;  // group_of takes 7 bits of the hash

  struct Entry {
    Row row;
    uint64_t ordinal = 0;
    TimestampMs watermark = kNone;  // event time: the watermark before this row
    uint32_t group = 0;
    bool check_due = true;
  };
  struct Out {
    EmitOrder order;
    Row row;
  };
  struct Failure {
    uint64_t ordinal = 0;  // the row being run when it failed
    Row row;
    Error error;
  };
  // A worker: the rows routed to its key groups and what they emitted in a drain. The vectors
  // keep their rows (and the rows their values' storage) from one drain to the next.
  struct Worker {
    std::vector<Entry> rows;
    size_t used = 0;
    std::vector<Out> out;
    size_t out_used = 0;
    std::vector<Failure> failures;
    std::vector<uint32_t> active;  // its key groups with windows open or rows since the last drain
    TimestampMs due = INT64_MIN;   // the least Pump::due() of those (INT64_MIN: not known)

    Entry& next_entry() {
      if (used == rows.size()) rows.emplace_back();
      return rows[used++];
    }
    void emitted(const Row& row, const EmitOrder& order) {
      if (out_used == out.size()) out.emplace_back();
      Out& o = out[out_used++];
      o.order = order;
      copy_row(o.row, row);
    }
  };

  size_t group_of(const Row& row) const {
    uint64_t h = ValueHash{}(row.values[columns_[0]]);
    for (size_t i = 1; i < columns_.size(); ++i) h = (h ^ ValueHash{}(row.values[columns_[i]])) * 0x100000001b3ULL;
    return static_cast<size_t>((h * 0x9e3779b97f4a7c15ULL) >> 57);  // the top 7 bits: 0..127
  }

  // True if the group was not active: its windows, if it makes any, are not in its worker's due.
  bool activate(size_t g) {
    if (active_[g]) return false;
    active_[g] = 1;
    worker_of_[g]->active.push_back(static_cast<uint32_t>(g));
    return true;
  }

  // A row for key group `g`: run now (inline) or kept for drain().
  // `check_due`: the row may give its group a window that ends before its worker's due.
  void take(const Row& row, size_t g, TimestampMs watermark, bool check_due) {
    dirty_ = true;
    check_due |= activate(g);
    if (inline_) return run_row(g, row, next_ordinal_++, watermark, check_due);
    Entry& e = worker_of_[g]->next_entry();
    copy_row(e.row, row);
    e.ordinal = next_ordinal_++;
    e.watermark = watermark;
    e.group = static_cast<uint32_t>(g);
    e.check_due = check_due;
  }

  void run_row(size_t g, const Row& row, uint64_t ordinal, TimestampMs watermark, bool check_due) {
    Pump& pump = *groups_[g];
    if (watermark != kNone) pump.on_watermark(watermark);
    pump.set_ordinal(ordinal);
    pump.on_row(row);
    if (check_due) {
      TimestampMs& due = worker_of_[g]->due;
      due = std::min(due, pump.due());
    }
  }

  // On a worker thread: touches only worker `w` and its key groups.
  void run_worker(size_t w) {
    Worker& worker = workers_[w];
    for (size_t i = 0; i < worker.used; ++i) {
      const Entry& e = worker.rows[i];
      run_row(e.group, e.row, e.ordinal, e.watermark, e.check_due);
    }
    worker.used = 0;
    // Windows that one pump would have closed by now (it saw every key's rows) close here too, in
    // the groups that have windows open (the others are told before their next row) — once time
    // has reached the first of their windows' ends.
    const TimestampMs now = plan_->mode == PumpMode::kTumbling ? time_ : marks_.have ? marks_.watermark : kNone;
    if (!flushing_ && (now == kNone || now < worker.due)) return;
    worker.due = INT64_MAX;
    auto& active = worker.active;
    for (size_t i = 0; i < active.size();) {
      const uint32_t g = active[i];
      Pump& pump = *groups_[g];
      pump.set_ordinal(next_ordinal_);
      if (plan_->mode == PumpMode::kTumbling && time_ != kNone) pump.on_time(time_);
      if (uses_event_time(*plan_) && marks_.have) pump.on_watermark(marks_.watermark);
      if (flushing_) pump.flush();
      if (pump.waits_for_time()) {
        worker.due = std::min(worker.due, pump.due());
        ++i;
      } else {
        active_[g] = 0;
        active[i] = active.back();
        active.pop_back();
      }
    }
  }

  void emit_in_order() {
    auto& outs = outs_;
    auto& failures = failures_;
    outs.clear();
    failures.clear();
    for (const auto& worker : workers_) {
      for (size_t i = 0; i < worker.out_used; ++i) outs.push_back(&worker.out[i]);
      for (const auto& f : worker.failures) failures.push_back(&f);
    }
    std::stable_sort(outs.begin(), outs.end(), [](const Out* a, const Out* b) { return a->order < b->order; });
    std::stable_sort(failures.begin(), failures.end(),
                     [](const Failure* a, const Failure* b) { return a->ordinal < b->ordinal; });
    for (const Failure* f : failures) error_(f->row, f->error);
    for (const Out* o : outs) emit_(o->row);
    for (auto& worker : workers_) {
      worker.out_used = 0;
      worker.failures.clear();
    }
  }

  std::vector<size_t> columns_;
  WorkerPool* pool_;
  std::vector<Worker> workers_;
  std::vector<std::unique_ptr<Pump>> groups_;
  std::vector<Worker*> worker_of_;  // per key group
  std::vector<uint8_t> active_;     // per key group: in its worker's `active`
  std::vector<const Out*> outs_;
  std::vector<const Failure*> failures_;
  uint64_t next_ordinal_ = 0;
  TimestampMs time_ = kNone;  // tumbling: the ROWTIME reached by rows or by on_time
  ShardWatermarks marks_;     // event time: every source row's shard and time
  bool dirty_ = false;        // rows, time or a watermark not yet given to the key groups
  bool inline_ = false;       // rows run as they come, on the calling thread (set_inline)
  bool flushing_ = false;
};

}  // namespace

std::unique_ptr<Pump> make_keyed_pump(std::unique_ptr<PumpPlan> plan, std::vector<std::unique_ptr<PumpPlan>> workers,
                                      std::vector<size_t> columns, EmitFn emit, ErrorFn error, const Clock& clock,
                                      WorkerPool* pool) {
  return std::make_unique<KeyedPump>(std::move(plan), std::move(workers), std::move(columns), std::move(emit),
                                     std::move(error), clock, pool);
}

}  // namespace eddy::runtime
