// Two in-application streams joined over their windows (sqlref/sql-reference-join-clause): the
// plan's comment (StreamJoinSpec) says what goes out and when. Rows arrive in ROWTIME order from
// the tagged stream both sides write; each side keeps its rows while its window holds them.
#include <deque>

#include "runtime/pump_internal.h"

namespace eddy::runtime {
namespace {

class StreamJoinPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    const StreamJoinSpec& j = plan_->stream_join;
    const int side = static_cast<int>(row.values[0].i);
    const int other = 1 - side;
    const size_t offset = side == 0 ? 1 : 1 + j.width[0];
    Held mine;
    mine.row.rowtime = row.rowtime;
    mine.row.origin = row.origin;
    mine.row.values.assign(row.values.begin() + static_cast<ptrdiff_t>(offset),
                           row.values.begin() + static_cast<ptrdiff_t>(offset + j.width[side]));
    mine.seq = next_seq_++;
    // Outer rows whose window closed by now go out first, in ROWTIME order.
    release(row.rowtime);
    evict(other, row.rowtime);
    if (!eval_all(j.keys[side], context(mine.row), mine.keys, row, error_)) return;
    const bool null_key = has_null(mine.keys);
    for (auto& theirs : held_[other]) {
      if (j.keys[side].size() > 0 && (null_key || theirs.keys != mine.keys)) continue;
      fill(side == 0 ? mine : theirs, side == 0 ? theirs : mine, row.rowtime);
      if (j.condition) {
        Value ok;
        if (auto st = j.condition->eval(context(joined_), ok); !st) return error_(row, st.error());
        if (ok.is_null() || ok.i == 0) continue;
      }
      mine.matched = theirs.matched = true;
      emit_(joined_);
    }
    if (j.window[side].kept) {
      held_[side].push_back(std::move(mine));
      evict(side, row.rowtime);
    } else if (!mine.matched && j.outer[side]) {
      emit_unmatched(side, mine, mine.row.rowtime);
    }
  }

  void on_time(TimestampMs t) override {
    release(t);
    for (int side = 0; side < 2; ++side) evict(side, t);
  }
  void flush() override { release(INT64_MAX); }
  bool waits_for_time() const override { return !pending_.empty(); }
  TimestampMs due() const override { return pending_.empty() ? INT64_MAX : pending_.front().deadline; }

 protected:
  void save_more(StateWriter& w) const override {
    w.u64(next_seq_);
    for (const auto& rows : held_) {
      w.u64(rows.size());
      for (const auto& h : rows) save_held(w, h);
    }
    w.u64(pending_.size());
    for (const auto& p : pending_) {
      w.i64(p.deadline);
      w.i64(p.side);
      save_held(w, p.held);
    }
  }
  void load_more(StateReader& r) override {
    next_seq_ = r.u64();
    for (auto& rows : held_) {
      rows.clear();
      const size_t n = r.count();
      for (size_t i = 0; i < n && r.ok(); ++i) rows.push_back(load_held(r));
    }
    pending_.clear();
    const size_t n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      Pending p;
      p.deadline = r.i64();
      p.side = static_cast<int>(r.i64());
      p.held = load_held(r);
      if (p.side != 0 && p.side != 1) r.fail();
      pending_.push_back(std::move(p));
    }
  }

 private:
  struct Held {
    Row row;                  // the side's own columns and ROWTIME
    std::vector<Value> keys;  // its equal keys
    uint64_t seq = 0;
    bool matched = false;
  };
  struct Pending {  // an outer row that left its window unmatched, due at `deadline`
    TimestampMs deadline = 0;
    int side = 0;
    Held held;
  };

  static bool has_null(const std::vector<Value>& keys) {
    for (const auto& k : keys) {
      if (k.is_null()) return true;
    }
    return false;
  }

  static void save_held(StateWriter& w, const Held& h) {
    w.row(h.row);
    w.values(h.keys);
    w.u64(h.seq);
    w.boolean(h.matched);
  }
  static Held load_held(StateReader& r) {
    Held h;
    h.row = r.row();
    h.keys = r.values();
    h.seq = r.u64();
    h.matched = r.boolean();
    return h;
  }

  // The rows of `side` that its window no longer holds at `now`: an outer side's unmatched ones
  // wait in pending_ for their deadline.
  void evict(int side, TimestampMs now) {
    const JoinWindow& w = plan_->stream_join.window[side];
    auto& rows = held_[side];
    while (!rows.empty()) {
      Held& oldest = rows.front();
      const bool out =
          w.rows ? rows.size() > static_cast<size_t>(w.rows_preceding) + 1 : oldest.row.rowtime < now - w.range_ms;
      if (!out) break;
      if (!oldest.matched && plan_->stream_join.outer[side]) {
        const TimestampMs deadline = w.rows ? now : oldest.row.rowtime + w.range_ms;
        pending_.push_back({deadline, side, std::move(oldest)});
      }
      rows.pop_front();
    }
  }

  // Outer rows due by `t`, in deadline (then arrival) order.
  void release(TimestampMs t) {
    if (t != INT64_MAX) {
      for (int side = 0; side < 2; ++side) evict(side, t);
    } else {
      for (int side = 0; side < 2; ++side) {
        for (auto& h : held_[side]) {
          const JoinWindow& w = plan_->stream_join.window[side];
          if (!h.matched && plan_->stream_join.outer[side])
            pending_.push_back({w.rows ? h.row.rowtime : h.row.rowtime + w.range_ms, side, std::move(h)});
        }
        held_[side].clear();
      }
    }
    std::stable_sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
      return a.deadline != b.deadline ? a.deadline < b.deadline : a.held.seq < b.held.seq;
    });
    while (!pending_.empty() && (t == INT64_MAX || pending_.front().deadline <= t)) {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      emit_unmatched(p.side, p.held, p.deadline);
    }
  }

  void emit_unmatched(int side, const Held& h, TimestampMs rowtime) {
    Held none;
    fill(side == 0 ? h : none, side == 0 ? none : h, rowtime);
    emit_(joined_);
  }

  // The joined row: left columns (NULLs when `left` has none), right columns, the two ROWTIMEs.
  void fill(const Held& left, const Held& right, TimestampMs rowtime) {
    const StreamJoinSpec& j = plan_->stream_join;
    joined_.rowtime = rowtime;
    joined_.values.clear();
    for (size_t i = 0; i < j.width[0]; ++i)
      joined_.values.push_back(left.row.values.empty() ? Value::null() : left.row.values[i]);
    for (size_t i = 0; i < j.width[1]; ++i)
      joined_.values.push_back(right.row.values.empty() ? Value::null() : right.row.values[i]);
    joined_.values.push_back(left.row.values.empty() ? Value::null() : Value::integer(left.row.rowtime));
    joined_.values.push_back(right.row.values.empty() ? Value::null() : Value::integer(right.row.rowtime));
  }

  std::deque<Held> held_[2];
  std::deque<Pending> pending_;
  uint64_t next_seq_ = 0;
  Row joined_;
};

}  // namespace

std::unique_ptr<Pump> make_stream_join_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                            const Clock& clock) {
  return std::make_unique<StreamJoinPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
