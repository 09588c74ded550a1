// GROUP_RANK (sqlref/sql-reference-group-rank-udx): the rows of one ROWTIME are a group; when a
// row of another ROWTIME arrives, or maxIdle milliseconds pass on the clock without one, the group
// is ranked by its column (RANK: equal values share a rank, the next rank skips), and goes out in
// outputOrder, at most outputMax rows, each with its rank after the CURSOR's columns. NULLs rank
// last in either order.
#include <algorithm>

#include "runtime/pump_internal.h"

namespace eddy::runtime {
namespace {

class GroupRankPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    if (!passes(row)) return;
    if (!group_.empty() && group_.front().rowtime != row.rowtime) release();
    Row r = row;
    r.values.resize(plan_->group_rank.width);
    group_.push_back(std::move(r));
    last_row_ms_ = clock_.now_ms();
  }
  void on_time(TimestampMs) override {
    const int64_t idle = plan_->group_rank.max_idle_ms;
    if (idle > 0 && !group_.empty() && clock_.now_ms() - last_row_ms_ >= idle) release();
  }
  void flush() override { release(); }
  bool waits_for_time() const override { return !group_.empty(); }
  TimestampMs due() const override { return INT64_MIN; }

 protected:
  void save_more(StateWriter& w) const override {
    w.u64(group_.size());
    for (const auto& r : group_) w.row(r);
  }
  void load_more(StateReader& r) override {
    group_.clear();
    const size_t n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) group_.push_back(r.row());
    last_row_ms_ = clock_.now_ms();
  }

 private:
  void release() {
    if (group_.empty()) return;
    const GroupRankSpec& g = plan_->group_rank;
    std::vector<size_t> order(group_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto before = [&](size_t a, size_t b) {  // ranking order: true when a ranks before b
      const Value& x = group_[a].values[g.column];
      const Value& y = group_[b].values[g.column];
      if (x.is_null() || y.is_null()) return !x.is_null() && y.is_null();
      const int c = compare_values(x, y);
      return g.descending ? c > 0 : c < 0;
    };
    std::stable_sort(order.begin(), order.end(), before);
    std::vector<int64_t> rank(order.size());
    for (size_t k = 0; k < order.size(); ++k)
      rank[k] = k > 0 && !before(order[k - 1], order[k]) ? rank[k - 1] : static_cast<int64_t>(k) + 1;
    std::vector<size_t> out(order.size());
    for (size_t k = 0; k < out.size(); ++k) out[k] = k;
    if (g.output_descending)
      std::stable_sort(out.begin(), out.end(), [&](size_t a, size_t b) { return rank[a] > rank[b]; });
    const size_t limit = g.output_max > 0 ? std::min(out.size(), static_cast<size_t>(g.output_max)) : out.size();
    for (size_t k = 0; k < limit; ++k) {
      Row r = group_[order[out[k]]];
      r.values.push_back(Value::integer(rank[out[k]]));
      order_ = {r.rowtime, 0, 0, ordinal_};
      produce(r, nullptr, nullptr, r.rowtime);
    }
    group_.clear();
  }

  std::vector<Row> group_;
  TimestampMs last_row_ms_ = 0;
};

}  // namespace

std::unique_ptr<Pump> make_group_rank_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                           const Clock& clock) {
  return std::make_unique<GroupRankPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
