// TOP_K_ITEMS_TUMBLING and COUNT_DISTINCT_ITEMS_TUMBLING over a tumbling window.
#include <algorithm>

#include "runtime/pump_internal.h"

namespace eddy::runtime {
namespace {

class ItemsTumblingPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    if (!passes(row)) return;
    const TimestampMs w = floor_to(row.rowtime);
    if (window_ && w > *window_) close();
    window_ = w;
    const Value& v = row.values[plan_->tf_column];
    if (v.is_null()) return;
    auto [it, fresh] = counts_.try_emplace(v, 0);
    if (fresh) order_.push_back(v);
    ++it->second;
  }

  void on_time(TimestampMs t) override {
    if (window_ && *window_ + plan_->tf_window_ms <= t) close();
  }
  void flush() override {
    if (window_) close();
  }

 protected:
  void save_more(StateWriter& w) const override {
    w.boolean(window_.has_value());
    w.i64(window_.value_or(0));
    w.u64(order_.size());
    for (const auto& v : order_) {
      w.value(v);
      w.i64(counts_.at(v));
    }
  }
  void load_more(StateReader& r) override {
    const bool has = r.boolean();
    const TimestampMs w = r.i64();
    if (has)
      window_ = w;
    else
      window_.reset();
    counts_.clear();
    order_.resize(r.count());
    for (auto& v : order_) {
      v = r.value();
      counts_[v] = r.i64();
    }
  }

 private:
  TimestampMs floor_to(TimestampMs t) const {
    const int64_t w = plan_->tf_window_ms;
    return (t >= 0 ? t / w : (t - w + 1) / w) * w;
  }

  void close() {
    const TimestampMs end = *window_ + plan_->tf_window_ms;
    Row derived;
    derived.rowtime = end;
    if (plan_->mode == PumpMode::kCountDistinct) {
      derived.values = {Value::integer(static_cast<int64_t>(counts_.size()))};
      produce(derived, nullptr, nullptr, end);
    } else {
      std::vector<std::pair<Value, int64_t>> items;
      for (const auto& v : order_) items.emplace_back(v, counts_[v]);
      std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        if (a.second != b.second) return a.second > b.second;
        return compare_values(a.first, b.first) < 0;
      });
      if (items.size() > static_cast<size_t>(plan_->tf_k)) items.resize(static_cast<size_t>(plan_->tf_k));
      for (auto& [v, n] : items) {
        derived.values = {v, Value::integer(n)};
        produce(derived, nullptr, nullptr, end);
      }
    }
    counts_.clear();
    order_.clear();
    window_.reset();
  }

  std::optional<TimestampMs> window_;
  std::unordered_map<Value, int64_t, ValueHash> counts_;
  std::vector<Value> order_;
};

}  // namespace

std::unique_ptr<Pump> make_items_tumbling_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                               const Clock& clock) {
  return std::make_unique<ItemsTumblingPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
