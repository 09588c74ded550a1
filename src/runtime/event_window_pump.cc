// Flink window TVF aggregation (TUMBLE, HOP, CUMULATE, SESSION) on event time.
//
// Each row joins every window that contains its event time. The watermark is the largest event
// time seen minus the table's WATERMARK delay, advanced after every row (decisions.md c); a window
// fires when the watermark reaches window_end - 1 ms, windows in order of end then start, each
// window's groups in the order they first appeared, with ROWTIME = window_time = window_end - 1 ms.
// A row that arrives for a window that has already fired is late: it is dropped from that window
// (it still counts in the unfired HOP/CUMULATE windows that contain it) and reported to
// error_stream as Late_Row (flink-sql.md 5, decisions.md 9). End of input fires everything.
//
// SESSION windows are per partition value: a row opens [ts, ts + gap), and sessions that overlap or
// touch (rows exactly `gap` apart, decisions.md 4) merge. A session keeps its rows until it fires,
// since merging changes window_start/window_end, which the query's keys and aggregates may read; a
// row whose own [ts, ts + gap) has already closed is late.
#include <algorithm>
#include <climits>
#include <map>
#include <numeric>
#include <optional>
#include <tuple>

#include "runtime/cast.h"
#include "runtime/pump_internal.h"

namespace eddy::runtime {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

class EventWindowPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    const auto& ev = plan_->event;
    const Value& t = row.values[ev.time_column];
    if (t.is_null()) {
      error_(row, Error{Errc::kInvalidArgument, "the event-time column is NULL: the row belongs to no window"});
      return;
    }
    const TimestampMs ts = t.i;
    if (passes(row)) {
      if (ev.kind == EventWindowSpec::Kind::kSession)
        add_to_session(row, ts);
      else if (ev.panes)
        add_to_pane(row, ts);
      else
        assign(row, ts);
    }
    if (partition_) return;  // the KeyedPump keeps the watermark (on_watermark)
    marks_.row(row.shard, ts, clock_.now_ms());
    advance_watermark();
  }

  void on_source_shards(const std::vector<uint32_t>& shards) override {
    marks_.set_shards(shards, clock_.now_ms());
    advance_watermark();
  }

  void on_watermark(TimestampMs watermark) override {
    if (!marks_.have || watermark > marks_.watermark) {
      marks_.watermark = watermark;
      marks_.have = true;
    }
    fire(marks_.watermark);
  }

  // Processing time passes: a shard idle for longer than the timeout stops holding the watermark.
  void on_time(TimestampMs) override {
    if (plan_->event.idle_timeout_ms > 0) advance_watermark();
  }

  void flush() override { fire(INT64_MAX); }
  bool waits_for_time() const override { return !open_.empty() || !panes_.empty() || !sessions_.empty(); }
  // fire(w) emits the windows whose end - 1 <= w.
  TimestampMs due() const override {
    if (!sessions_.empty()) return INT64_MIN;
    TimestampMs d = INT64_MAX;
    if (!open_.empty()) d = open_.begin()->first.first - 1;
    if (!panes_.empty()) d = std::min(d, next_end_ ? *next_end_ - 1 : INT64_MIN);
    return d;
  }

  std::optional<TimestampMs> event_watermark() const override {
    return marks_.have ? std::optional<TimestampMs>(marks_.watermark) : std::nullopt;
  }

 protected:
  void save_more(StateWriter& w) const override {
    w.u64(open_.size());
    for (const auto& [span, win] : open_) {
      w.i64(span.first);
      w.i64(span.second);
      save_groups(w, win.groups, partition_);
    }
    w.u64(panes_.size());
    for (const auto& [start, win] : panes_) {
      w.i64(start);
      save_groups(w, win.groups, partition_);
    }
    w.boolean(next_end_.has_value());
    w.i64(next_end_.value_or(0));
    marks_.save_shards(w);
    w.u64(sessions_.size());
    for (const auto& [keys, list] : sessions_) {
      w.values(keys);
      w.u64(list.size());
      for (const auto& session : list) {
        w.i64(session.start);
        w.i64(session.end);
        w.u64(session.seq);
        w.u64(session.rows.size());
        for (const auto& row : session.rows) w.row(row);
      }
    }
    w.u64(seq_);
    w.i64(marks_.watermark);
    w.boolean(marks_.have);
  }

  void load_more(StateReader& r) override {
    open_.clear();
    panes_.clear();
    sessions_.clear();
    size_t n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      const TimestampMs end = r.i64(), start = r.i64();
      auto& win = open_[{end, start}];
      load_groups(r, win.groups, win.index, *plan_, partition_);
    }
    n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      auto& win = panes_[r.i64()];
      load_groups(r, win.groups, win.index, *plan_, partition_);
    }
    const bool has_next = r.boolean();
    const TimestampMs next = r.i64();
    if (has_next)
      next_end_ = next;
    else
      next_end_.reset();
    marks_.load_shards(r);
    n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      auto& list = sessions_[r.values()];
      list.resize(r.count(24));
      for (auto& session : list) {
        session.start = r.i64();
        session.end = r.i64();
        session.seq = r.u64();
        session.rows.resize(r.count());
        for (auto& row : session.rows) row = r.row();
      }
    }
    seq_ = r.u64();
    marks_.watermark = r.i64();
    marks_.have = r.boolean();
  }

 private:
  struct Group {
    std::vector<Value> keys;
    std::vector<Accumulator> accs;
    uint64_t first = 0;    // the ordinal of its first row (partitions)
    TimestampMs pane = 0;  // the slice it first appeared in (partitions, sliced windows)
  };
  struct Window {
    std::vector<Group> groups;
    KeyMap index;
  };

  // The [start, end) windows containing `ts`.
  void windows_of(TimestampMs ts, std::vector<std::pair<TimestampMs, TimestampMs>>& out) const {
    const auto& ev = plan_->event;
    out.clear();
    switch (ev.kind) {
      case EventWindowSpec::Kind::kTumble: {
        const TimestampMs s = floor_div(ts - ev.offset_ms, ev.size_ms) * ev.size_ms + ev.offset_ms;
        out.emplace_back(s, s + ev.size_ms);
        break;
      }
      case EventWindowSpec::Kind::kHop: {
        const TimestampMs last = floor_div(ts - ev.offset_ms, ev.slide_ms) * ev.slide_ms + ev.offset_ms;
        for (TimestampMs s = last; s > ts - ev.size_ms; s -= ev.slide_ms) out.emplace_back(s, s + ev.size_ms);
        break;
      }
      case EventWindowSpec::Kind::kSession:
        break;  // add_to_session
      case EventWindowSpec::Kind::kCumulate: {
        const TimestampMs s = floor_div(ts - ev.offset_ms, ev.size_ms) * ev.size_ms + ev.offset_ms;
        for (TimestampMs e = s + ev.slide_ms; e <= s + ev.size_ms; e += ev.slide_ms) {
          if (e > ts) out.emplace_back(s, e);
        }
        break;
      }
    }
  }

  void assign(const Row& row, TimestampMs ts) {
    windows_of(ts, spans_);
    prepare(row);
    size_t late = 0;
    for (const auto& [start, end] : spans_) {
      if (marks_.have && end - 1 <= marks_.watermark) {
        ++late;
        continue;
      }
      if (!add_to_window(open_[{end, start}], start, end, row)) return;
    }
    if (late) {
      this->late(row, "late row: event time " + format_timestamp(ts) + " arrived after the watermark " +
                          format_timestamp(marks_.watermark) + " had closed " + std::to_string(late) + " of its " +
                          std::to_string(spans_.size()) + " window(s)");
    }
  }

  void advance_watermark() {
    const auto& ev = plan_->event;
    if (marks_.advance(clock_.now_ms(), ev.idle_timeout_ms, ev.watermark_delay_ms)) fire(marks_.watermark);
  }

  void late(const Row& row, const std::string& message) {
    if (!plan_->event.drop_late) error_(row, Error{Errc::kInvalidArgument, message});
  }

  struct Session {
    TimestampMs start, end;
    uint64_t seq;  // first row's arrival: the order sessions ending together are emitted in
    std::vector<Row> rows;
  };

  void add_to_session(const Row& row, TimestampMs ts) {
    const auto& ev = plan_->event;
    if (marks_.have && ts + ev.size_ms - 1 <= marks_.watermark) {
      late(row, "late row: event time " + format_timestamp(ts) + " arrived after the watermark " +
                    format_timestamp(marks_.watermark) + " had closed its session window");
      return;
    }
    prepare(row);
    ext_.values[ev.source_width].set_int(ts);
    ext_.values[ev.source_width + 1].set_int(ts + ev.size_ms);
    ext_.values[ev.source_width + 2].set_int(ts + ev.size_ms - 1);
    if (!eval_all(ev.session_partition, context(ext_), keys_, row, error_)) return;
    auto& list = sessions_[keys_];
    Session merged{ts, ts + ev.size_ms, seq_++, {}};
    std::vector<Row> rows;
    for (auto it = list.begin(); it != list.end();) {
      if (it->start <= merged.end && merged.start <= it->end) {  // inclusive: touching sessions merge
        merged.start = std::min(merged.start, it->start);
        merged.end = std::max(merged.end, it->end);
        merged.seq = std::min(merged.seq, it->seq);
        rows.insert(rows.end(), std::make_move_iterator(it->rows.begin()), std::make_move_iterator(it->rows.end()));
        it = list.erase(it);
      } else {
        ++it;
      }
    }
    rows.push_back(row);
    merged.rows = std::move(rows);
    list.push_back(std::move(merged));
  }

  void fire_sessions(TimestampMs watermark) {
    std::vector<Session> due;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      auto& list = it->second;
      for (auto s = list.begin(); s != list.end();) {
        if (s->end - 1 <= watermark) {
          due.push_back(std::move(*s));
          s = list.erase(s);
        } else {
          ++s;
        }
      }
      it = list.empty() ? sessions_.erase(it) : std::next(it);
    }
    std::sort(due.begin(), due.end(), [](const Session& a, const Session& b) {
      return std::tie(a.end, a.start, a.seq) < std::tie(b.end, b.start, b.seq);
    });
    for (const auto& session : due) {
      Window w;
      for (const auto& r : session.rows) {
        prepare(r);
        (void)add_to_window(w, session.start, session.end, r);
      }
      emit_window(w, session.start, session.end);
    }
  }

  // Adds `row` (prepared) to `w` as a row of window [start, end): its group by the GROUP BY keys
  // evaluated with those window columns, then the aggregates. False on an evaluation error
  // (reported).
  bool add_to_window(Window& w, TimestampMs start, TimestampMs end, const Row& row) {
    const auto& ev = plan_->event;
    ext_.values[ev.source_width].set_int(start);
    ext_.values[ev.source_width + 1].set_int(end);
    ext_.values[ev.source_width + 2].set_int(end - 1);
    const auto ctx = context(ext_);
    if (!eval_all(plan_->keys, ctx, keys_, row, error_)) return false;
    size_t g = w.index.find(keys_);
    if (g == KeyMap::npos) {
      g = w.groups.size();
      w.groups.push_back({keys_, std::vector<Accumulator>(plan_->aggregates.size()), ordinal_, start});
      w.index.emplace(keys_, g);
    }
    (void)accumulate(plan_->aggregates, nullptr, 0, ctx, w.groups[g].accs, row, error_);
    return true;
  }

  // The row as the query sees it: its columns, then window_start, window_end, window_time.
  void prepare(const Row& row) {
    const auto& ev = plan_->event;
    ext_.rowtime = row.rowtime;
    ext_.origin = row.origin;
    ext_.values.resize(ev.source_width + 3);
    for (size_t c = 0; c < ev.source_width && c < row.values.size(); ++c) ext_.values[c].set(row.values[c]);
  }

  void emit_window(const Window& w, TimestampMs start, TimestampMs end) {
    Row context_row;
    context_row.rowtime = end - 1;
    if (plan_->event.top_n > 0) return emit_top_n(w, context_row);
    const EmitOrder row_order = order_;
    for (const auto& g : w.groups) {
      const auto aggs = results(plan_->aggregates, g.accs);
      order_ = {end - 1, start, plan_->event.panes ? g.pane : 0, g.first};
      produce(context_row, &aggs, &g.keys, end - 1);
    }
    order_ = row_order;
  }

  // Window Top-N: the window's groups as rows of the aggregation, the first N by the order column
  // (ties keep the groups' first-seen order), numbered from 1, as target rows.
  void emit_top_n(const Window& w, const Row& context_row) {
    const auto& ev = plan_->event;
    std::vector<Row> rows;
    for (const auto& g : w.groups) {
      const auto aggs = results(plan_->aggregates, g.accs);
      Row r;
      if (fill_output(r, context_row, &aggs, &g.keys, context_row.rowtime)) rows.push_back(std::move(r));
    }
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
      const int c = compare_values(a.values[ev.top_order], b.values[ev.top_order]);
      return ev.top_desc ? c > 0 : c < 0;
    });
    const size_t n = std::min(rows.size(), static_cast<size_t>(ev.top_n));
    for (size_t i = 0; i < n; ++i) {
      Row out;
      out.rowtime = context_row.rowtime;
      out.values.resize(ev.top_columns.size());
      bool ok = true;
      for (size_t j = 0; j < ev.top_columns.size() && ok; ++j) {
        const int src = ev.top_columns[j];
        if (src == -3) continue;
        const Value v =
            src < 0 ? Value::integer(static_cast<int64_t>(i + 1)) : rows[i].values[static_cast<size_t>(src)];
        const SqlType from = src < 0 ? SqlType::of(TypeId::kBigint) : ev.top_inner_types[static_cast<size_t>(src)];
        if (auto st = cast_value(v, from, ev.top_types[j], out.values[j]); !st) {
          error_(rows[i], st.error());
          ok = false;
        }
      }
      if (ok) emit_(out);
    }
  }

  // ---- slices (panes) -------------------------------------------------------------------
  // Every window starts and ends on a slice boundary: slices of gcd(size, slide) for HOP, the
  // size for TUMBLE, the step for CUMULATE. A row is aggregated into its slice only; a window that
  // fires merges its slices, so a row costs the same whatever the size/slide ratio.

  int64_t slice_ms() const {
    const auto& ev = plan_->event;
    if (ev.kind == EventWindowSpec::Kind::kHop) return std::gcd(ev.size_ms, ev.slide_ms);
    return ev.kind == EventWindowSpec::Kind::kTumble ? ev.size_ms : ev.slide_ms;
  }
  int64_t advance_ms() const {
    return plan_->event.kind == EventWindowSpec::Kind::kTumble ? plan_->event.size_ms : plan_->event.slide_ms;
  }
  // The start of the window that ends at `end`.
  TimestampMs start_of(TimestampMs end) const {
    const auto& ev = plan_->event;
    if (ev.kind == EventWindowSpec::Kind::kCumulate)
      return floor_div(end - 1 - ev.offset_ms, ev.size_ms) * ev.size_ms + ev.offset_ms;
    return end - ev.size_ms;
  }
  // The first and the last end of the windows that contain `ts`.
  std::pair<TimestampMs, TimestampMs> ends_of(TimestampMs ts) const {
    const auto& ev = plan_->event;
    if (ev.kind == EventWindowSpec::Kind::kCumulate) {
      const TimestampMs s = floor_div(ts - ev.offset_ms, ev.size_ms) * ev.size_ms + ev.offset_ms;
      return {s + (floor_div(ts - s, ev.slide_ms) + 1) * ev.slide_ms, s + ev.size_ms};
    }
    const int64_t step = advance_ms();
    const TimestampMs last_start = floor_div(ts - ev.offset_ms, step) * step + ev.offset_ms;
    TimestampMs first_start = floor_div(ts - ev.size_ms - ev.offset_ms, step) * step + ev.offset_ms;
    if (first_start <= ts - ev.size_ms) first_start += step;
    return {first_start + ev.size_ms, last_start + ev.size_ms};
  }

  void add_to_pane(const Row& row, TimestampMs ts) {
    const auto& ev = plan_->event;
    const auto [first_end, last_end] = ends_of(ts);
    if (first_end > last_end) return;    // a HOP slide longer than its size leaves gaps: no window
    TimestampMs first_open = first_end;  // the first of its windows that has not fired
    if (marks_.have && first_end - 1 <= marks_.watermark) {
      // Late for the windows that have fired; still counted in the unfired ones (if any).
      const int64_t step = advance_ms();
      const int64_t total = (last_end - first_end) / step + 1;
      const int64_t fired = std::min(total, (marks_.watermark + 1 - first_end) / step + 1);
      first_open = first_end + fired * step;
      late(row, "late row: event time " + format_timestamp(ts) + " arrived after the watermark " +
                    format_timestamp(marks_.watermark) + " had closed " + std::to_string(fired) + " of its " +
                    std::to_string(total) + " window(s)");
      if (fired == total) return;
    }
    const int64_t slice = slice_ms();
    const TimestampMs start = floor_div(ts - ev.offset_ms, slice) * slice + ev.offset_ms;
    if (!next_end_ || first_open < *next_end_) next_end_ = first_open;  // an earlier row within the delay
    prepare(row);
    (void)add_to_window(panes_[start], start, start + slice, row);
  }

  void fire_panes(TimestampMs watermark) {
    const auto& ev = plan_->event;
    const int64_t step = advance_ms();
    while (!panes_.empty() && next_end_ && *next_end_ - 1 <= watermark) {
      const TimestampMs end = *next_end_, start = start_of(end);
      Window w;
      for (auto it = panes_.lower_bound(start); it != panes_.end() && it->first < end; ++it) {
        for (const auto& g : it->second.groups) {
          keys_ = g.keys;
          for (size_t k = 0; k < keys_.size() && k < ev.window_slot.size(); ++k) {
            if (ev.window_slot[k] == 1) keys_[k].set_int(start);
            if (ev.window_slot[k] == 2) keys_[k].set_int(end);
            if (ev.window_slot[k] == 3) keys_[k].set_int(end - 1);
          }
          const size_t found = w.index.find(keys_);
          if (found == KeyMap::npos) {
            w.index.emplace(keys_, w.groups.size());
            w.groups.push_back({keys_, g.accs, g.first, it->first});
          } else {
            auto& accs = w.groups[found].accs;
            for (size_t a = 0; a < accs.size(); ++a) {
              const auto& agg = plan_->aggregates[a];
              accs[a].merge(g.accs[a], agg.arg ? agg.arg->type : SqlType::of(TypeId::kBigint), agg.kind);
            }
          }
        }
      }
      emit_window(w, start, end);
      next_end_ = end + step;
      // Slices no later window reads.
      const TimestampMs keep_from = start_of(*next_end_);
      while (!panes_.empty() && panes_.begin()->first + slice_ms() <= keep_from) panes_.erase(panes_.begin());
      if (panes_.empty()) {
        next_end_.reset();
      } else if (panes_.begin()->first >= *next_end_) {
        next_end_ = ends_of(panes_.begin()->first).first;  // skip the empty windows of a gap in the data
      }
    }
  }

  void fire(TimestampMs watermark) {
    if (plan_->event.kind == EventWindowSpec::Kind::kSession) return fire_sessions(watermark);
    if (plan_->event.panes) return fire_panes(watermark);
    while (!open_.empty() && open_.begin()->first.first - 1 <= watermark) {
      auto node = open_.extract(open_.begin());
      emit_window(node.mapped(), node.key().second, node.key().first);
    }
  }

  std::map<std::pair<TimestampMs, TimestampMs>, Window> open_;  // by (end, start)
  std::map<TimestampMs, Window> panes_;                         // slices, by start
  std::optional<TimestampMs> next_end_;                         // the next window end to fire
  ShardWatermarks marks_;
  std::unordered_map<std::vector<Value>, std::vector<Session>, RowKeyHash> sessions_;  // by partition value
  uint64_t seq_ = 0;
  std::vector<std::pair<TimestampMs, TimestampMs>> spans_;
  Row ext_;
  std::vector<Value> keys_;
};

}  // namespace

void ShardWatermarks::row(uint32_t shard, TimestampMs ts, TimestampMs now) {
  auto& mark = shards[shard];
  mark.max_ts = mark.seen ? std::max(mark.max_ts, ts) : ts;
  mark.seen = true;
  mark.last_row_ms = now;
}

void ShardWatermarks::set_shards(const std::vector<uint32_t>& declared, TimestampMs now) {
  std::map<uint32_t, Mark> next;
  for (uint32_t s : declared) {
    auto it = shards.find(s);
    if (it != shards.end()) {
      next[s] = it->second;
    } else {
      Mark m;
      m.last_row_ms = now;  // an idle timeout counts from when the shard appeared
      next[s] = m;
    }
  }
  shards = std::move(next);  // shards read to their end no longer hold the watermark
}

bool ShardWatermarks::advance(TimestampMs now, int64_t idle_timeout_ms, int64_t delay_ms) {
  std::optional<TimestampMs> low;
  bool waiting = false;  // an active shard without a row yet
  for (const auto& [_, m] : shards) {
    if (idle_timeout_ms > 0 && now - m.last_row_ms > idle_timeout_ms) continue;
    if (!m.seen) {
      waiting = true;
      continue;
    }
    low = low ? std::min(*low, m.max_ts) : m.max_ts;
  }
  if (waiting) return false;
  if (!low) {  // every shard idle: the most advanced one leads (Flink's idle inputs)
    for (const auto& [_, m] : shards) {
      if (m.seen) low = low ? std::max(*low, m.max_ts) : m.max_ts;
    }
  }
  if (!low) return false;
  const TimestampMs candidate = *low - delay_ms;
  if (!have || candidate > watermark) {
    watermark = candidate;
    have = true;
  }
  return true;
}

void ShardWatermarks::save_shards(StateWriter& w) const {
  w.u64(shards.size());
  for (const auto& [shard, m] : shards) {
    w.u64(shard);
    w.i64(m.max_ts);
    w.i64(m.last_row_ms);
    w.boolean(m.seen);
  }
}

void ShardWatermarks::load_shards(StateReader& r) {
  shards.clear();
  const size_t n = r.count();
  for (size_t i = 0; i < n && r.ok(); ++i) {
    auto& m = shards[static_cast<uint32_t>(r.u64())];
    m.max_ts = r.i64();
    m.last_row_ms = r.i64();
    m.seen = r.boolean();
  }
}

std::unique_ptr<Pump> make_event_window_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                             const Clock& clock) {
  return std::make_unique<EventWindowPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
