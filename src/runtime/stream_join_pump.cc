// Two in-application streams joined over their windows (sqlref/sql-reference-join-clause): the
// plan's comment (StreamJoinSpec) says what goes out and when. Rows arrive in ROWTIME order from
// the tagged stream both sides write; each side keeps its rows while its window holds them, and
// with equality keys an index of them by key, so a row meets only the rows it can match.
#include <deque>
#include <unordered_map>

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
    auto meet = [&](Held& theirs) {
      fill(side == 0 ? mine : theirs, side == 0 ? theirs : mine, row.rowtime);
      if (j.condition) {
        Value ok;
        if (auto st = j.condition->eval(context(joined_), ok); !st) {
          error_(row, st.error());
          return false;
        }
        if (ok.is_null() || ok.i == 0) return true;
      }
      mine.matched = theirs.matched = true;
      emit_(joined_);
      return true;
    };
    if (j.keys[side].empty()) {
      for (auto& theirs : held_[other]) {
        if (!meet(theirs)) return;
      }
    } else if (!has_null(mine.keys)) {
      // The other side's rows with these keys, oldest first (positions counted from its first
      // row ever, so evicting from the front does not move them).
      auto it = index_[other].find(mine.keys);
      if (it != index_[other].end()) {
        for (uint64_t at : it->second) {
          if (!meet(held_[other][static_cast<size_t>(at - popped_[other])])) return;
        }
      }
    }
    if (j.window[side].kept) {
      keep(side, std::move(mine));
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
    for (int side = 0; side < 2; ++side) {
      clear_side(side);
      const size_t n = r.count();
      for (size_t i = 0; i < n && r.ok(); ++i) keep(side, load_held(r));
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
      const bool out = w.rows ? rows.size() > static_cast<size_t>(w.rows_preceding) + 1
                              : rows.front().row.rowtime < now - w.range_ms;
      if (!out) break;
      Held oldest = take_oldest(side);
      if (!oldest.matched && plan_->stream_join.outer[side]) {
        const TimestampMs deadline = w.rows ? now : oldest.row.rowtime + w.range_ms;
        pending_.push_back({deadline, side, std::move(oldest)});
      }
    }
  }

  void keep(int side, Held&& h) {
    if (!plan_->stream_join.keys[side].empty() && !has_null(h.keys))
      index_[side][h.keys].push_back(popped_[side] + held_[side].size());
    held_[side].push_back(std::move(h));
  }

  // The side's oldest row, out of the window and the index (where it is its keys' first position).
  Held take_oldest(int side) {
    auto& rows = held_[side];
    Held h = std::move(rows.front());
    rows.pop_front();
    auto it = index_[side].find(h.keys);
    if (it != index_[side].end() && !it->second.empty() && it->second.front() == popped_[side]) {
      it->second.pop_front();
      if (it->second.empty()) index_[side].erase(it);
    }
    ++popped_[side];
    return h;
  }

  void clear_side(int side) {
    popped_[side] += held_[side].size();
    held_[side].clear();
    index_[side].clear();
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
        clear_side(side);
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
  // Per side: keys -> positions of its held rows, counted from the side's first row ever; popped_
  // is how many rows left the front, so a position's row is held_[side][position - popped_].
  std::unordered_map<std::vector<Value>, std::deque<uint64_t>, RowKeyHash> index_[2];
  uint64_t popped_[2] = {0, 0};
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
