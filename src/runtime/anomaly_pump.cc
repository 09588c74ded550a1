// RANDOM_CUT_FOREST, RANDOM_CUT_FOREST_WITH_EXPLANATION and HOTSPOTS (sqlref/sqlrf-random-cut-forest,
// -with-explanation, -hotspots): a row out for every row in, the CURSOR's columns followed by
// ANOMALY_SCORE (and ANOMALY_EXPLANATION), or HOTSPOTS_RESULT. The model sees the row's numeric
// columns; a row with a NULL among them scores 0 and is not learnt. Not keyed: one model over the
// whole stream, as KDA has it; its state is checkpointed whole.
#include <cmath>
#include <memory>

#include "runtime/hotspots.h"
#include "runtime/pump_internal.h"
#include "runtime/random_cut_forest.h"

namespace eddy::runtime {
namespace {

class AnomalyPump final : public Pump {
 public:
  AnomalyPump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error, const Clock& clock)
      : Pump(std::move(plan), std::move(emit), std::move(error), clock) {
    const AnomalySpec& a = plan_->anomaly;
    if (a.kind == AnomalySpec::Kind::kHotspots) {
      hotspots_ = std::make_unique<Hotspots>(a.columns.size(), static_cast<int>(a.window_size), a.scan_radius,
                                             static_cast<int>(a.min_points));
    } else {
      RcfOptions o;
      o.trees = static_cast<int>(a.trees);
      o.sample_size = static_cast<int>(a.sample_size);
      o.time_decay = a.time_decay;
      o.shingle_size = static_cast<int>(a.shingle_size);
      o.seed = a.seed;
      forest_ = std::make_unique<RandomCutForest>(a.columns.size(), o);
    }
  }

  void on_row(const Row& row) override {
    if (!passes(row)) return;
    const AnomalySpec& a = plan_->anomaly;
    point_.resize(a.columns.size());
    bool complete = true;
    for (size_t i = 0; i < a.columns.size(); ++i) {
      const Value& v = row.values[a.columns[i]];
      complete &= !v.is_null();
      point_[i] = v.is_null() ? NAN : a.approx[i] ? v.d : static_cast<double>(v.i);
    }
    derived_.rowtime = row.rowtime;
    derived_.origin = row.origin;
    derived_.values.assign(row.values.begin(), row.values.begin() + static_cast<ptrdiff_t>(a.width));
    if (hotspots_) {
      if (complete) hotspots_->add(point_);
      derived_.values.push_back(Value::text(hotspots_json(hotspots_->find())));
    } else if (a.kind == AnomalySpec::Kind::kForestExplained) {
      RandomCutForest::Explanation e;
      const double score = complete ? forest_->score_and_update(point_, &e) : 0.0;
      if (!complete) {
        e.attribution.assign(a.columns.size(), 0.0);
        e.high = e.low = e.attribution;
      }
      derived_.values.push_back(Value::real(score));
      derived_.values.push_back(Value::text(anomaly_explanation_json(a.names, e, a.directionality)));
    } else {
      derived_.values.push_back(Value::real(complete ? forest_->score_and_update(point_) : 0.0));
    }
    order_ = {row.rowtime, 0, 0, ordinal_};
    produce(derived_, nullptr, nullptr, row.rowtime);
  }
  bool waits_for_time() const override { return false; }
  TimestampMs due() const override { return INT64_MAX; }

 protected:
  void save_more(StateWriter& w) const override {
    if (forest_) forest_->save(w);
    if (hotspots_) hotspots_->save(w);
  }
  void load_more(StateReader& r) override {
    const bool ok = forest_ ? forest_->load(r) : hotspots_->load(r);
    if (!ok) r.fail();
  }

 private:
  std::unique_ptr<RandomCutForest> forest_;
  std::unique_ptr<Hotspots> hotspots_;
  std::vector<double> point_;
  Row derived_;
};

}  // namespace

std::unique_ptr<Pump> make_anomaly_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                        const Clock& clock) {
  return std::make_unique<AnomalyPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
