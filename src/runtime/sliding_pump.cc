// Sliding windows (WINDOW ... RANGE|ROWS ... PRECEDING, OVER): a row out for every row in. KDA's
// windows follow ROWTIME and a row goes out as it comes; Flink's OVER aggregation follows an
// event-time column, so rows wait for the watermark and go out in event-time order.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "runtime/pump_internal.h"

namespace eddy::runtime {
namespace {

class SlidingPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    if (plan_->event_over) return hold(row);
    if (!passes(row)) return;
    run(row);
  }

  // Event time (Flink OVER): rows wait for the watermark.
  void on_source_shards(const std::vector<uint32_t>& shards) override {
    if (!plan_->event_over) return;
    marks_.set_shards(shards, clock_.now_ms());
    advance_watermark();
  }
  void on_watermark(TimestampMs watermark) override {
    if (!marks_.have || watermark > marks_.watermark) {
      marks_.watermark = watermark;
      marks_.have = true;
    }
    release(marks_.watermark);
  }
  void on_time(TimestampMs) override {
    if (plan_->event_over && plan_->event.idle_timeout_ms > 0 && !partition_) advance_watermark();
  }
  void flush() override { release(INT64_MAX); }
  std::optional<TimestampMs> event_watermark() const override {
    return plan_->event_over && marks_.have ? std::optional<TimestampMs>(marks_.watermark) : std::nullopt;
  }
  // KDA: a row's output is emitted with it. Flink: when the watermark reaches the first waiting row.
  bool waits_for_time() const override { return !waiting_.empty(); }
  TimestampMs due() const override { return waiting_.empty() ? INT64_MAX : waiting_.begin()->first.ts; }

 protected:
  void save_more(StateWriter& w) const override {
    w.u64(partitions_.size());
    for (const auto& window : partitions_) {
      w.u64(window.size());
      for (const auto& [keys, p] : window) {
        w.values(keys);
        w.u64(p.front_seq);
        w.u64(p.rowtimes.size());
        for (size_t i = 0; i < p.rowtimes.size(); ++i) {  // row by row, NULL where not the window's
          w.i64(p.rowtimes[i]);
          std::vector<Value> row_args(plan_->aggregates.size());
          for (size_t a = 0; a < row_args.size(); ++a) {
            if (i < p.args[a].size()) row_args[a] = p.args[a][i];
          }
          w.values(row_args);
        }
        w.u64(p.states.size());
        for (const auto& st : p.states) {
          w.i64(st.count);
          w.i128(st.sum);
          w.u64(st.extremes.size());
          for (uint64_t x : st.extremes) w.u64(x);
        }
      }
    }
    if (!plan_->event_over) return;
    w.u64(waiting_.size());
    for (const auto& [at, row] : waiting_) {
      w.i64(at.ts);
      w.u64(at.seq);
      w.row(row);
    }
    w.u64(next_seq_);
    marks_.save_shards(w);
    w.i64(marks_.watermark);
    w.boolean(marks_.have);
  }

  void load_more(StateReader& r) override {
    partitions_.assign(r.count(), {});
    for (size_t wi = 0; wi < partitions_.size(); ++wi) {
      auto& window = partitions_[wi];
      const size_t n = r.count();
      for (size_t i = 0; i < n && r.ok(); ++i) {
        auto keys = r.values();
        Partition p;
        p.front_seq = r.u64();
        p.args.resize(plan_->aggregates.size());
        const size_t rows = r.count();
        for (size_t k = 0; k < rows && r.ok(); ++k) {
          p.rowtimes.push_back(r.i64());
          auto row_args = r.values();
          if (row_args.size() != plan_->aggregates.size()) {
            r.fail();
            break;
          }
          for (size_t a = 0; a < row_args.size(); ++a) {
            const auto& agg = plan_->aggregates[a];
            if (plan_->aggregate_window[a] == static_cast<int>(wi) && agg.arg)
              p.args[a].push_back(std::move(row_args[a]));
          }
        }
        p.states.resize(r.count());
        for (auto& st : p.states) {
          st.count = r.i64();
          st.sum = r.i128();
          const size_t x = r.count();
          for (size_t j = 0; j < x && r.ok(); ++j) st.extremes.push_back(r.u64());
        }
        // Extremes point into the rows: a sequence number outside them is a corrupt state.
        for (const auto& st : p.states) {
          for (uint64_t seq : st.extremes) {
            if (seq < p.front_seq || seq - p.front_seq >= p.rowtimes.size()) r.fail();
          }
        }
        if (p.states.size() != plan_->aggregates.size()) r.fail();
        window.emplace(std::move(keys), std::move(p));
      }
    }
    if (!plan_->event_over) return;
    waiting_.clear();
    const size_t n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      Waiting at;
      at.ts = r.i64();
      at.seq = r.u64();
      waiting_[at] = r.row();
    }
    next_seq_ = r.u64();
    marks_.load_shards(r);
    marks_.watermark = r.i64();
    marks_.have = r.boolean();
  }

 private:
  struct AggState {
    int64_t count = 0;              // non-null values (rows for COUNT(*))
    __int128 sum = 0;               // exact sums
    std::deque<uint64_t> extremes;  // MIN/MAX: sequence numbers of candidate rows
  };
  // The rows in a partition's window, oldest first, a column per aggregate, each one sequence:
  // the rows leaving the window, read a window after they came, are then where the hardware's
  // prefetch finds them (each row's arguments in an allocation of their own cost a cache miss
  // per row there, most of the sliding pump's time).
  struct Partition {
    std::deque<TimestampMs> rowtimes;
    std::vector<std::deque<Value>> args;  // per aggregate of the window with an argument
    uint64_t front_seq = 0;               // sequence number of the first row
    std::vector<AggState> states;
  };

  bool exact_sum(const AggregateSpec& a) const {
    const auto& t = a.arg->type;
    return t.is_integer() || t.id == TypeId::kDecimal || t.is_interval();
  }

  const Value& value(const Partition& p, uint64_t seq, size_t a) const { return p.args[a][seq - p.front_seq]; }

  void add(Partition& p, TimestampMs rowtime, const std::vector<Value>& args, size_t w) {
    const uint64_t seq = p.front_seq + p.rowtimes.size();
    p.rowtimes.push_back(rowtime);
    for (size_t a = 0; a < plan_->aggregates.size(); ++a) {
      if (plan_->aggregate_window[a] != static_cast<int>(w)) continue;
      const auto& agg = plan_->aggregates[a];
      auto& s = p.states[a];
      if (!agg.arg) {
        ++s.count;
        continue;
      }
      p.args[a].emplace_back().set(args[a]);
      const Value& v = p.args[a].back();
      if (v.is_null()) continue;
      ++s.count;
      if ((agg.kind == AggregateKind::kSum || agg.kind == AggregateKind::kAvg) && exact_sum(agg)) s.sum += v.i;
      if (agg.kind == AggregateKind::kMin || agg.kind == AggregateKind::kMax) {
        const bool is_min = agg.kind == AggregateKind::kMin;
        while (!s.extremes.empty()) {
          const int c = compare_values(value(p, s.extremes.back(), a), v);
          if (is_min ? c < 0 : c > 0) break;
          s.extremes.pop_back();
        }
        s.extremes.push_back(seq);
      }
    }
  }

  void evict(Partition& p, size_t w) {
    for (size_t a = 0; a < plan_->aggregates.size(); ++a) {
      if (plan_->aggregate_window[a] != static_cast<int>(w)) continue;
      const auto& agg = plan_->aggregates[a];
      auto& s = p.states[a];
      if (!agg.arg) {
        --s.count;
        continue;
      }
      const Value& v = p.args[a].front();
      if (!v.is_null()) {
        --s.count;
        if ((agg.kind == AggregateKind::kSum || agg.kind == AggregateKind::kAvg) && exact_sum(agg)) s.sum -= v.i;
        if (!s.extremes.empty() && s.extremes.front() == p.front_seq) s.extremes.pop_front();
      }
      p.args[a].pop_front();
    }
    p.rowtimes.pop_front();
    ++p.front_seq;
  }

  Value result(const Partition& p, size_t a) const {
    const auto& agg = plan_->aggregates[a];
    const auto& s = p.states[a];
    switch (agg.kind) {
      case AggregateKind::kCountStar:
      case AggregateKind::kCount:
        return Value::integer(s.count);
      case AggregateKind::kMin:
      case AggregateKind::kMax:
        return s.extremes.empty() ? Value::null() : value(p, s.extremes.front(), a);
      case AggregateKind::kSum:
      case AggregateKind::kAvg:
        if (exact_sum(agg)) {
          if (s.count == 0) return Value::null();
          // Integer AVG truncates toward zero (decisions.md 7).
          return Value::integer(static_cast<int64_t>(agg.kind == AggregateKind::kSum ? s.sum : s.sum / s.count));
        }
        break;
      default:
        break;
    }
    Accumulator acc;  // order-dependent aggregates: re-add the window's values in arrival order
    for (const auto& v : p.args[a]) acc.add(v, agg.arg->type, agg.kind);
    return acc.result(agg.kind, agg.arg->type, agg.result_type);
  }

  // LAG, NTH_VALUE and EXP_AVG over the window's rows, oldest first; the current row is the last.
  // nullopt: LAG found no row that far back (its default applies).
  std::optional<Value> analytic(const Partition& p, size_t a) const {
    const auto& agg = plan_->aggregates[a];
    const auto& rows = p.args[a];
    const int64_t n = static_cast<int64_t>(rows.size());
    // The offset-th row counted from `from` in steps of `step`, skipping NULLs if asked.
    auto nth = [&](int64_t from, int64_t step, int64_t offset) -> std::optional<Value> {
      for (int64_t i = from; i >= 0 && i < n; i += step) {
        if (agg.ignore_nulls && rows[static_cast<size_t>(i)].is_null()) continue;
        if (--offset == 0) return rows[static_cast<size_t>(i)];
      }
      return std::nullopt;
    };
    switch (agg.kind) {
      case AggregateKind::kLag:
        if (agg.offset == 0) return rows.back();
        return nth(n - 2, -1, agg.offset);
      case AggregateKind::kNthValue: {
        auto v = agg.from_last ? nth(n - 1, -1, agg.offset) : nth(0, 1, agg.offset);
        return v ? std::move(*v) : Value::null();
      }
      case AggregateKind::kExpAvg: {
        // Each value weighs 2^-(age / half-life), age = the current ROWTIME - its own (decisions.md 12).
        const SqlType& t = agg.arg->type;
        const TimestampMs now = p.rowtimes.back();
        double sum = 0, weights = 0;
        for (int64_t i = 0; i < n; ++i) {
          const Value& v = rows[static_cast<size_t>(i)];
          if (v.is_null()) continue;
          const double x = t.is_approx()              ? v.d
                           : t.id == TypeId::kDecimal ? static_cast<double>(v.i) / static_cast<double>(pow10(t.scale))
                                                      : static_cast<double>(v.i);
          const double age = static_cast<double>(now - p.rowtimes[static_cast<size_t>(i)]);
          const double weight = std::exp2(-age / static_cast<double>(agg.half_life_ms));
          sum += weight * x;
          weights += weight;
        }
        if (weights == 0) return Value::null();
        const double avg = sum / weights;
        return t.id == TypeId::kReal ? Value::real(static_cast<float>(avg)) : Value::real(avg);
      }
      default:
        return Value::null();
    }
  }

  // The row through every window, then out with the windows' aggregates.
  void run(const Row& row) {
    prepare_scratch();
    std::vector<Partition*>& parts = parts_;
    for (size_t w = 0; w < plan_->windows.size(); ++w) {
      if (!absorb(row, w, parts[w])) return;
      if (!compute(row, w, *parts[w])) return;
    }
    order_ = {row.rowtime, 0, 0, ordinal_};
    produce(row, &aggs_, nullptr, row.rowtime);
  }

  void prepare_scratch() {
    aggs_.resize(plan_->aggregates.size());
    parts_.resize(plan_->windows.size());
    if (partitions_.size() < plan_->windows.size()) partitions_.resize(plan_->windows.size());
  }

  // Adds the row to its partition of window w (out: the partition) and evicts what the window no
  // longer holds; false after reporting an evaluation error.
  bool absorb(const Row& row, size_t w, Partition*& out) {
    const auto& spec = plan_->windows[w];
    const auto ctx = context(row);
    std::vector<Value>& keys = keys_;
    if (!eval_all(spec.partition_by, ctx, keys, row, error_)) return false;
    std::vector<Value>& args = args_;  // this row's arguments of the window's aggregates
    args.resize(plan_->aggregates.size());
    for (size_t a = 0; a < plan_->aggregates.size(); ++a) {
      if (plan_->aggregate_window[a] != static_cast<int>(w) || !plan_->aggregates[a].arg) continue;
      if (auto st = plan_->aggregates[a].arg->eval(ctx, args[a]); !st) {
        error_(row, st.error());
        return false;
      }
    }
    auto it = partitions_[w].find(keys);
    if (it == partitions_[w].end()) {
      it = partitions_[w].emplace(keys, Partition{}).first;
      it->second.states.resize(plan_->aggregates.size());
      it->second.args.resize(plan_->aggregates.size());
    }
    Partition& p = it->second;
    add(p, row.rowtime, args, w);
    if (spec.rows) {
      while (p.rowtimes.size() > static_cast<size_t>(spec.rows_preceding) + 1) evict(p, w);
    } else {
      while (!p.rowtimes.empty() && p.rowtimes.front() < row.rowtime - spec.range_ms) evict(p, w);
    }
    out = &p;
    return true;
  }

  // Window w's aggregates for the row into aggs_; false after reporting an evaluation error.
  bool compute(const Row& row, size_t w, const Partition& p) {
    for (size_t a = 0; a < plan_->aggregates.size(); ++a) {
      if (plan_->aggregate_window[a] != static_cast<int>(w)) continue;
      const auto& agg = plan_->aggregates[a];
      if (!is_analytic(agg.kind)) {
        aggs_[a] = result(p, a);
      } else if (auto v = analytic(p, a)) {
        aggs_[a] = std::move(*v);
      } else if (!agg.fallback) {
        aggs_[a] = Value::null();
      } else if (auto st = agg.fallback->eval(context(row), aggs_[a]); !st) {
        error_(row, st.error());
        return false;
      }
    }
    return true;
  }

  // A Flink row: late if the watermark has passed its time (flink-sql.md 5: OVER drops late
  // rows), else held until it does, with its event time as ROWTIME.
  void hold(const Row& row) {
    const auto& ev = plan_->event;
    const Value& t = row.values[ev.time_column];
    if (t.is_null()) {
      error_(row, Error{Errc::kInvalidArgument, "the event-time column is NULL: the row has no place in the order"});
      return;
    }
    if (passes(row)) {
      if (marks_.have && t.i <= marks_.watermark) {
        if (!ev.drop_late) {
          error_(row, Error{Errc::kInvalidArgument, "late row: event time " + format_timestamp(t.i) +
                                                        " arrived after the watermark " +
                                                        format_timestamp(marks_.watermark) + " had passed it"});
        }
      } else {
        Row& held = waiting_[{t.i, partition_ ? ordinal_ : next_seq_++}];
        held = row;
        held.rowtime = t.i;
      }
    }
    if (partition_) return;  // the KeyedPump keeps the watermark (on_watermark)
    marks_.row(row.shard, t.i, clock_.now_ms());
    advance_watermark();
  }

  void advance_watermark() {
    const auto& ev = plan_->event;
    if (marks_.advance(clock_.now_ms(), ev.idle_timeout_ms, ev.watermark_delay_ms)) release(marks_.watermark);
  }

  // The waiting rows up to `watermark`, in (event time, arrival) order. ROWS windows take them one
  // by one; a RANGE window's rows of one time are all in it before any of them goes out (peers).
  void release(TimestampMs watermark) {
    const bool peers = !plan_->windows.empty() && !plan_->windows[0].rows;
    while (!waiting_.empty() && waiting_.begin()->first.ts <= watermark) {
      if (!peers) {
        auto node = waiting_.extract(waiting_.begin());
        ordinal_ = node.key().seq;
        run(node.mapped());
        continue;
      }
      const TimestampMs ts = waiting_.begin()->first.ts;
      auto end = waiting_.upper_bound({ts, UINT64_MAX});
      prepare_scratch();
      std::vector<std::vector<Partition*>> parts;
      for (auto it = waiting_.begin(); it != end; ++it) {
        auto& row_parts = parts.emplace_back(plan_->windows.size(), nullptr);
        for (size_t w = 0; w < plan_->windows.size(); ++w) {
          if (!absorb(it->second, w, row_parts[w])) {
            row_parts.clear();  // reported: it goes out with no row
            break;
          }
        }
      }
      size_t i = 0;
      for (auto it = waiting_.begin(); it != end; ++it, ++i) {
        if (parts[i].empty()) continue;
        bool ok = true;
        for (size_t w = 0; w < plan_->windows.size() && ok; ++w) ok = compute(it->second, w, *parts[i][w]);
        if (!ok) continue;
        ordinal_ = it->first.seq;
        order_ = {ts, 0, 0, ordinal_};
        produce(it->second, &aggs_, nullptr, ts);
      }
      waiting_.erase(waiting_.begin(), end);
    }
  }

  std::vector<std::unordered_map<std::vector<Value>, Partition, RowKeyHash>> partitions_;
  std::vector<Value> aggs_, keys_, args_;
  std::vector<Partition*> parts_;
  // Flink OVER: rows waiting for the watermark by (event time, arrival), and the watermark.
  struct Waiting {
    TimestampMs ts;
    uint64_t seq;  // arrival: a partition's input ordinal (the order one pump would see), else a count
    auto operator<=>(const Waiting&) const = default;
  };
  std::map<Waiting, Row> waiting_;
  uint64_t next_seq_ = 0;
  ShardWatermarks marks_;
};

// WINDOWED BY STAGGER: a window per partition key opens with its first row and closes `range`
// later (ROWTIME); its row has ROWTIME open + range (decisions.md 1 and 3).

}  // namespace

std::unique_ptr<Pump> make_sliding_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                        const Clock& clock) {
  return std::make_unique<SlidingPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
