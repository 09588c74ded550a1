#include "runtime/pump.h"

#include <algorithm>

#include "runtime/pump_internal.h"

namespace eddy::runtime {

EvalContext Pump::context(const Row& row) const {
  EvalContext ctx;
  ctx.row = &row;
  ctx.clock = &clock_;
  ctx.query_start = query_start_;
  return ctx;
}

bool Pump::passes(const Row& row) {
  if (!plan_->where) return true;
  Value v;
  auto ctx = context(row);
  if (auto st = plan_->where->eval(ctx, v); !st) {
    error_(row, st.error());
    return false;
  }
  return v.truthy();
}

void Pump::produce(const Row& context_row, const std::vector<Value>* aggregates, const std::vector<Value>* keys,
                   TimestampMs rowtime) {
  if (fill_output(output_, context_row, aggregates, keys, rowtime)) emit_(output_);
}

std::optional<Row> Pump::make_output(const Row& context_row, const std::vector<Value>* aggregates,
                                     const std::vector<Value>* keys, TimestampMs rowtime) {
  Row out;
  if (!fill_output(out, context_row, aggregates, keys, rowtime)) return std::nullopt;
  return out;
}

bool Pump::fill_output(Row& out, const Row& context_row, const std::vector<Value>* aggregates,
                       const std::vector<Value>* keys, TimestampMs rowtime) {
  EvalContext ctx = context(context_row);
  ctx.aggregates = aggregates;
  ctx.keys = keys;
  Value v;
  if (plan_->having) {
    if (auto st = plan_->having->eval(ctx, v); !st) {
      error_(context_row, st.error());
      return false;
    }
    if (!v.truthy()) return false;
  }
  out.rowtime = rowtime;
  out.origin = context_row.origin;
  out.values.resize(plan_->target_width);
  for (auto& x : out.values) {
    if (!x.is_null()) x = Value::null();  // target columns the pump does not write
  }
  for (size_t i = 0; i < plan_->outputs.size(); ++i) {
    if (auto st = plan_->outputs[i]->eval(ctx, out.values[plan_->target_columns[i]]); !st) {
      error_(context_row, st.error());
      return false;
    }
  }
  return true;
}

// Evaluates expressions into `out`; false (after reporting) on an evaluation error.
// `skip`: an index whose value the caller already has (-1: none).
bool eval_all(const std::vector<ExprPtr>& exprs, const EvalContext& ctx, std::vector<Value>& out, const Row& row,
              const ErrorFn& error, int skip) {
  out.resize(exprs.size());
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (static_cast<int>(i) == skip) continue;
    if (auto st = exprs[i]->eval(ctx, out[i]); !st) {
      error(row, st.error());
      return false;
    }
  }
  return true;
}

// Adds one input row to a set of accumulators (one per aggregate).
bool accumulate(const std::vector<AggregateSpec>& aggs, const std::vector<int>* only, int window,
                const EvalContext& ctx, std::vector<Accumulator>& accs, const Row& row, const ErrorFn& error) {
  Value v;
  for (size_t a = 0; a < aggs.size(); ++a) {
    if (only && (*only)[a] != window) continue;
    if (!aggs[a].arg) {
      accs[a].add_row();
      continue;
    }
    if (const int column = aggs[a].arg->column_index(); column >= 0) {  // read in place, not copied
      accs[a].add(ctx.row->values[static_cast<size_t>(column)], aggs[a].arg->type, aggs[a].kind);
      continue;
    }
    if (auto st = aggs[a].arg->eval(ctx, v); !st) {
      error(row, st.error());
      return false;
    }
    accs[a].add(v, aggs[a].arg->type, aggs[a].kind);
  }
  return true;
}

std::vector<Value> results(const std::vector<AggregateSpec>& aggs, const std::vector<Accumulator>& accs) {
  std::vector<Value> out(aggs.size());
  for (size_t a = 0; a < aggs.size(); ++a) {
    const SqlType arg_type = aggs[a].arg ? aggs[a].arg->type : SqlType::of(TypeId::kBigint);
    out[a] = accs[a].result(aggs[a].kind, arg_type, aggs[a].result_type);
  }
  return out;
}

void save_accs(StateWriter& w, const std::vector<Accumulator>& accs) {
  w.u64(accs.size());
  for (const auto& a : accs) a.save(w);
}

std::vector<Accumulator> load_accs(StateReader& r) {
  std::vector<Accumulator> accs(r.count());
  for (auto& a : accs) a.load(r);
  return accs;
}

void Pump::save_state(StateWriter& w) const {
  w.i64(query_start_);
  save_more(w);
}

bool Pump::load_state(StateReader& r) {
  query_start_ = r.i64();
  load_more(r);
  return r.ok();
}

std::string Pump::state_shape() const {
  const PumpPlan& p = *plan_;
  std::string s = "mode " + std::to_string(static_cast<int>(p.mode)) + "; keys";
  for (const auto& k : p.keys) s += " " + k->type.to_string();
  s += "; window key " + std::to_string(p.window_key) + (p.window_on_rowtime ? " rowtime" : "") +
       (p.window_on_change ? " on change" : "");
  s += "; aggregates";
  for (size_t a = 0; a < p.aggregates.size(); ++a) {
    const auto& agg = p.aggregates[a];
    s += " " + std::to_string(static_cast<int>(agg.kind)) + "(" + (agg.arg ? agg.arg->type.to_string() : "*") + ")";
    if (a < p.aggregate_window.size()) s += "@" + std::to_string(p.aggregate_window[a]);
  }
  s += "; windows";
  for (const auto& w : p.windows) {
    s += " " + std::to_string(w.partition_by.size()) +
         (w.rows ? " rows " + std::to_string(w.rows_preceding) : " range " + std::to_string(w.range_ms));
  }
  if (p.event_over) s += " event time " + std::to_string(p.event.time_column);
  s += "; order";
  for (const auto& k : p.order_keys) s += " " + k->type.to_string();
  s += "; stagger " + std::to_string(p.stagger_range_ms);
  s += "; items " + std::to_string(p.tf_k) + " " + std::to_string(p.tf_window_ms);
  if (p.mode == PumpMode::kStreamJoin) {
    const auto& j = p.stream_join;
    for (int side = 0; side < 2; ++side) {
      const auto& w = j.window[side];
      s += "; side " + std::to_string(side) + " " + std::to_string(j.width[side]) + (j.outer[side] ? " outer" : "") +
           (w.kept ? (w.rows ? " rows " + std::to_string(w.rows_preceding) : " range " + std::to_string(w.range_ms))
                   : "");
    }
  }
  if (p.mode == PumpMode::kGroupRank) {
    const auto& g = p.group_rank;
    s += "; rank " + std::to_string(g.column) + (g.descending ? " desc" : " asc") + " " + std::to_string(g.width);
  }
  if (p.mode == PumpMode::kAnomaly) {
    const auto& a = p.anomaly;
    s += "; anomaly " + std::to_string(static_cast<int>(a.kind)) + " " + std::to_string(a.columns.size()) + " " +
         std::to_string(a.trees) + " " + std::to_string(a.sample_size) + " " + std::to_string(a.time_decay) + " " +
         std::to_string(a.shingle_size) + " " + std::to_string(a.window_size) + " " + std::to_string(a.seed);
  }
  if (p.mode == PumpMode::kEventWindow) {
    const auto& e = p.event;
    s += "; event " + std::to_string(static_cast<int>(e.kind)) + " " + std::to_string(e.size_ms) + " " +
         std::to_string(e.slide_ms) + " " + std::to_string(e.offset_ms) + " " + std::to_string(e.time_column) + " " +
         std::to_string(e.source_width) + (e.panes ? " panes" : "") + " partition " +
         std::to_string(e.session_partition.size());
  }
  return s;
}

namespace {

class ProjectPump final : public Pump {
 public:
  using Pump::Pump;
  void on_row(const Row& row) override {
    if (!passes(row)) return;
    if (plan_->order_keys.empty()) return produce(row, nullptr, nullptr, row.rowtime);
    std::vector<Value> keys;
    if (!eval_all(plan_->order_keys, context(row), keys, row, error_)) return;
    if (!buffer_.empty() && compare_values(buffer_.front().first[0], keys[0]) != 0) release();
    if (auto out = make_output(row, nullptr, nullptr, row.rowtime))
      buffer_.emplace_back(std::move(keys), std::move(*out));
  }
  void flush() override { release(); }

 protected:
  void save_more(StateWriter& w) const override {
    w.u64(buffer_.size());
    for (const auto& [keys, row] : buffer_) {
      w.values(keys);
      w.row(row);
    }
  }
  void load_more(StateReader& r) override {
    buffer_.resize(r.count());
    for (auto& [keys, row] : buffer_) {
      keys = r.values();
      row = r.row();
    }
  }

 private:
  void release() {
    std::stable_sort(buffer_.begin(), buffer_.end(), [this](const auto& a, const auto& b) {
      for (size_t k = 1; k < a.first.size(); ++k) {
        const int c = compare_values(a.first[k], b.first[k]);
        if (c != 0) return plan_->order_desc[k] ? c > 0 : c < 0;
      }
      return false;
    });
    // Rows keep their own ROWTIME order: a sorted window leaves with the ROWTIME of its last row.
    TimestampMs last = buffer_.empty() ? 0 : buffer_.back().second.rowtime;
    for (auto& [k, r] : buffer_) last = std::max(last, r.rowtime);
    for (auto& [k, r] : buffer_) {
      r.rowtime = last;
      emit_(r);
    }
    buffer_.clear();
  }
  std::vector<std::pair<std::vector<Value>, Row>> buffer_;
};

// GROUP BY with a monotonic window key: a group closes when a row of a later window arrives
// (KDA: "a new group is started and the previous group is considered complete"), when ROWTIME
// passes the window's end, or at the end of a bounded input.
class TumblingPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    if (!passes(row)) return;
    const auto ctx = context(row);
    // A ROWTIME window key is a monotonic function of ROWTIME alone (window_end relies on it too):
    // a row inside the newest window's [first row, end) has that window's key, unevaluated.
    const auto wk = static_cast<size_t>(plan_->window_key);
    const Window* newest = windows_.empty() ? nullptr : &windows_.back();
    const bool known = plan_->window_on_rowtime && newest && newest->end && row.rowtime >= newest->first_rowtime &&
                       row.rowtime < *newest->end;
    // The other keys: a plain column is read where it is in the row (no copy per row); the rest
    // are evaluated into keys_ (reused: no allocation per row once warm).
    const size_t n = plan_->keys.size();
    keys_.resize(n);
    key_refs_.resize(n);
    for (size_t k = 0; k < n; ++k) {
      if (k == wk && known) continue;
      const Expr& e = *plan_->keys[k];
      if (const int column = e.column_index(); column >= 0) {
        key_refs_[k] = &row.values[static_cast<size_t>(column)];
      } else if (auto st = e.eval(ctx, keys_[k]); !st) {
        error_(row, st.error());
        return;
      } else {
        key_refs_[k] = &keys_[k];
      }
    }
    last_rowtime_ = std::max(last_rowtime_, row.rowtime);
    auto it = windows_.begin();
    if (known) {
      // The newest window's key, which sorts last: the windows before it are over.
      while (windows_.size() > 1) close_front();
      it = windows_.begin();
    } else {
      const Value& w = *key_refs_[wk];
      // A MONOTONIC key may fall as well as rise: any other key ends the group (KDA: "a new group
      // is started and the previous group is considered complete").
      while (!windows_.empty() && (plan_->window_on_change ? compare_values(windows_.front().key, w) != 0
                                                           : compare_values(windows_.front().key, w) < 0))
        close_front();
      it = std::find_if(windows_.begin(), windows_.end(),
                        [&](const Window& x) { return compare_values(x.key, w) >= 0; });
      if (it == windows_.end() || compare_values(it->key, w) != 0) {
        Window fresh;
        fresh.key = w;
        fresh.first_rowtime = row.rowtime;
        fresh.sample = row;
        it = windows_.insert(it, std::move(fresh));
        if (plan_->window_on_rowtime) (void)window_end(*it);  // known from the start: see above
      }
    }
    key_refs_[wk] = &it->key;  // equal to the row's window key, and stays put from here on
    size_t g = it->index.find(key_refs_);
    if (g == KeyMap::npos) {
      g = it->groups.size();
      std::vector<Value> keys(n);
      for (size_t k = 0; k < n; ++k) keys[k] = *key_refs_[k];
      it->index.emplace(keys, g);
      it->groups.push_back({std::move(keys), std::vector<Accumulator>(plan_->aggregates.size()), ordinal_});
    }
    (void)accumulate(plan_->aggregates, nullptr, 0, ctx, it->groups[g].accs, row, error_);
  }

  void on_time(TimestampMs t) override {
    if (!plan_->window_on_rowtime) return;
    while (!windows_.empty() && window_end(windows_.front()) <= t) close_front();
  }

  void flush() override {
    while (!windows_.empty()) close_front();
  }
  bool waits_for_time() const override { return !windows_.empty(); }
  TimestampMs due() const override {
    if (windows_.empty()) return INT64_MAX;
    return plan_->window_on_rowtime ? windows_.front().end.value_or(INT64_MIN) : INT64_MIN;
  }

 protected:
  void save_more(StateWriter& w) const override {
    w.i64(last_rowtime_);
    w.u64(windows_.size());
    for (const auto& win : windows_) {
      w.value(win.key);
      w.i64(win.first_rowtime);
      w.row(win.sample);
      save_groups(w, win.groups, partition_);
      w.boolean(win.end.has_value());
      w.i64(win.end.value_or(0));
    }
  }
  void load_more(StateReader& r) override {
    last_rowtime_ = r.i64();
    windows_.resize(r.count());
    for (auto& win : windows_) {
      win.key = r.value();
      win.first_rowtime = r.i64();
      win.sample = r.row();
      load_groups(r, win.groups, win.index, *plan_, partition_);
      const bool has_end = r.boolean();
      const TimestampMs end = r.i64();
      if (has_end)
        win.end = end;
      else
        win.end.reset();
    }
  }

 private:
  struct Group {
    std::vector<Value> keys;
    std::vector<Accumulator> accs;
    uint64_t first = 0;    // the ordinal of its first row (partitions)
    TimestampMs pane = 0;  // (event windows only)
  };
  struct Window {
    Value key;
    TimestampMs first_rowtime = 0;
    Row sample;  // a row of the window, to evaluate the window key at other times
    std::vector<Group> groups;
    KeyMap index;
    std::optional<TimestampMs> end;
  };

  // The first ROWTIME at which the window key changes: the window's end, and the ROWTIME of
  // its rows (decisions.md 1). Found by exponential then binary search, so any monotonic key
  // expression works (STEP, FLOOR, the console's FLOOR((ROWTIME - ...) SECOND / 10 TO SECOND)).
  TimestampMs window_end(Window& w) {
    if (w.end) return *w.end;
    if (!plan_->window_on_rowtime) return *(w.end = last_rowtime_);
    const Expr& key = *plan_->keys[static_cast<size_t>(plan_->window_key)];
    Row probe = w.sample;
    auto same = [&](TimestampMs t) {
      probe.rowtime = t;
      Value v;
      EvalContext ctx = context(probe);
      if (!key.eval(ctx, v)) return false;
      return compare_values(v, w.key) == 0;
    };
    const TimestampMs t0 = w.first_rowtime;
    TimestampMs step = 1;
    while (step < (int64_t{1} << 50) && same(t0 + step)) step *= 2;
    TimestampMs lo = t0 + step / 2, hi = t0 + step;  // same(lo), !same(hi)
    if (step == 1) lo = t0;
    while (hi - lo > 1) {
      const TimestampMs mid = lo + (hi - lo) / 2;
      (same(mid) ? lo : hi) = mid;
    }
    return *(w.end = hi);
  }

  void close_front() {
    Window w = std::move(windows_.front());
    windows_.erase(windows_.begin());
    const TimestampMs rowtime = plan_->window_on_rowtime ? window_end(w) : last_rowtime_;
    Row context_row;
    context_row.rowtime = rowtime;
    const EmitOrder row_order = order_;
    for (const auto& g : w.groups) {
      const auto aggs = results(plan_->aggregates, g.accs);
      order_ = {rowtime, 0, 0, g.first};
      produce(context_row, &aggs, &g.keys, rowtime);
    }
    order_ = row_order;
  }

  std::vector<Window> windows_;  // open windows in key order; usually one
  TimestampMs last_rowtime_ = 0;
  std::vector<Value> keys_;
  std::vector<const Value*> key_refs_;  // on_row: each key's value, in the row, keys_ or the window
};

// OVER windows: one output row per input row, over the same-partition rows that arrived before
// it within the window (decisions.md d: later rows with the same ROWTIME are not included).
//
// Aggregates are maintained incrementally as rows enter and leave a partition's window: counts and
// exact (integer, DECIMAL, interval) sums add and subtract, MIN/MAX keep a monotonic deque, so a
// row costs O(1) amortised whatever the window size. Sums and averages of REAL/DOUBLE and the
// variance family are re-added over the window, since floating-point sums depend on their order.
}  // namespace

std::unique_ptr<Pump> make_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error, const Clock& clock) {
  std::unique_ptr<Pump> p;
  switch (plan->mode) {
    case PumpMode::kProject:
      p.reset(new ProjectPump(std::move(plan), std::move(emit), std::move(error), clock));
      break;
    case PumpMode::kTumbling:
      p.reset(new TumblingPump(std::move(plan), std::move(emit), std::move(error), clock));
      break;
    case PumpMode::kSliding:
      p = make_sliding_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
    case PumpMode::kStagger:
      p = make_stagger_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
    case PumpMode::kTopK:
    case PumpMode::kCountDistinct:
      p = make_items_tumbling_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
    case PumpMode::kEventWindow:
      p = make_event_window_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
    case PumpMode::kTableJoin:
      p = make_table_join_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
    case PumpMode::kAnomaly:
      p = make_anomaly_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
    case PumpMode::kStreamJoin:
      p = make_stream_join_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
    case PumpMode::kGroupRank:
      p = make_group_rank_pump(std::move(plan), std::move(emit), std::move(error), clock);
      break;
  }
  return p;
}

}  // namespace eddy::runtime
