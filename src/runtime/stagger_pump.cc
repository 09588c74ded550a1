// Stagger windows (WINDOWED BY STAGGER): a window per key that opens with its first row.
#include <algorithm>

#include "runtime/pump_internal.h"

namespace eddy::runtime {
namespace {

class StaggerPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    if (!passes(row)) return;
    close_due(row.rowtime);
    const auto ctx = context(row);
    std::vector<Value> keys;
    if (!eval_all(plan_->keys, ctx, keys, row, error_)) return;
    auto it = open_.find(keys);
    if (it == open_.end()) {
      Window w;
      w.open = row.rowtime;
      w.seq = next_seq_++;
      w.accs.resize(plan_->aggregates.size());
      closing_.emplace(std::make_pair(w.open + plan_->stagger_range_ms, w.seq), keys);
      it = open_.emplace(keys, std::move(w)).first;
    }
    (void)accumulate(plan_->aggregates, nullptr, 0, ctx, it->second.accs, row, error_);
  }

  void on_time(TimestampMs t) override { close_due(t); }
  void flush() override { close_due(INT64_MAX); }

 protected:
  void save_more(StateWriter& w) const override {
    w.u64(next_seq_);
    w.u64(closing_.size());
    for (const auto& [due, keys] : closing_) {
      w.i64(due.first);
      w.u64(due.second);
      w.values(keys);
      const auto it = open_.find(keys);
      w.boolean(it != open_.end());
      if (it != open_.end()) {
        w.i64(it->second.open);
        w.u64(it->second.seq);
        save_accs(w, it->second.accs);
      }
    }
  }
  void load_more(StateReader& r) override {
    next_seq_ = r.u64();
    open_.clear();
    closing_.clear();
    const size_t n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      const TimestampMs due = r.i64();
      const uint64_t seq = r.u64();
      auto keys = r.values();
      if (r.boolean()) {
        Window win;
        win.open = r.i64();
        win.seq = r.u64();
        win.accs = load_accs(r);
        open_.emplace(keys, std::move(win));
      }
      closing_.emplace(std::make_pair(due, seq), std::move(keys));
    }
  }

 private:
  struct Window {
    TimestampMs open = 0;
    uint64_t seq = 0;
    std::vector<Accumulator> accs;
  };

  void close_due(TimestampMs t) {
    while (!closing_.empty() && closing_.begin()->first.first <= t) {
      const TimestampMs close = closing_.begin()->first.first;
      auto keys = std::move(closing_.begin()->second);
      closing_.erase(closing_.begin());
      auto it = open_.find(keys);
      if (it == open_.end()) continue;
      const auto aggs = results(plan_->aggregates, it->second.accs);
      Row context_row;
      context_row.rowtime = close;
      produce(context_row, &aggs, &it->first, close);
      open_.erase(it);
    }
  }

  std::unordered_map<std::vector<Value>, Window, RowKeyHash> open_;
  std::map<std::pair<TimestampMs, uint64_t>, std::vector<Value>> closing_;
  uint64_t next_seq_ = 0;
};

// TOP_K_ITEMS_TUMBLING / COUNT_DISTINCT_ITEMS_TUMBLING over epoch-aligned ROWTIME windows
// (decisions.md 2). Counts are exact (decisions.md f).

}  // namespace

std::unique_ptr<Pump> make_stagger_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                        const Clock& clock) {
  return std::make_unique<StaggerPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
