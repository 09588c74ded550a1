// Helpers the pump implementations share (pump.cc, event_window_pump.cc); not part of the
// runtime's interface.
#pragma once

#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "runtime/group_index.h"
#include "runtime/pump.h"
#include "runtime/state_codec.h"

namespace eddy::runtime {

using KeyMap = GroupIndex;

// Evaluates expressions into `out`; false (after reporting) on an evaluation error.
// `skip`: an index whose value the caller already has (-1: none).
bool eval_all(const std::vector<ExprPtr>& exprs, const EvalContext& ctx, std::vector<Value>& out, const Row& row,
              const ErrorFn& error, int skip = -1);

// Adds one input row to a set of accumulators (one per aggregate); `only`/`window` restrict it to
// the aggregates of one sliding window.
bool accumulate(const std::vector<AggregateSpec>& aggs, const std::vector<int>* only, int window,
                const EvalContext& ctx, std::vector<Accumulator>& accs, const Row& row, const ErrorFn& error);

// The aggregates' values.
std::vector<Value> results(const std::vector<AggregateSpec>& aggs, const std::vector<Accumulator>& accs);

// Checkpoint forms of the shapes the pumps share.
void save_accs(StateWriter& w, const std::vector<Accumulator>& accs);
std::vector<Accumulator> load_accs(StateReader& r);

// Groups of a window ({keys, accs} in first-seen order, which is the order they are emitted in)
// and the index over them.
// `ranked` (a KeyedPump's partition): with each group's first ordinal and slice.
template <class Group>
void save_groups(StateWriter& w, const std::vector<Group>& groups, bool ranked) {
  w.u64(groups.size());
  for (const auto& g : groups) {
    w.values(g.keys);
    save_accs(w, g.accs);
    if (ranked) {
      w.u64(g.first);
      w.i64(g.pane);
    }
  }
}
template <class Group>
void load_groups(StateReader& r, std::vector<Group>& groups, KeyMap& index, const PumpPlan& plan, bool ranked) {
  groups.resize(r.count());
  index.clear();
  for (size_t i = 0; i < groups.size() && r.ok(); ++i) {
    groups[i].keys = r.values();
    groups[i].accs = load_accs(r);
    if (ranked) {
      groups[i].first = r.u64();
      groups[i].pane = r.i64();
    }
    if (groups[i].keys.size() != plan.keys.size() || groups[i].accs.size() != plan.aggregates.size()) r.fail();
    index.emplace(groups[i].keys, i);
  }
}

// Event-time watermarks per source shard (decisions.md c): the minimum over the shards that are
// not idle of their largest event time, minus the delay; it never goes back. A shard the host
// declared holds it until its first row (or until it is idle); without declarations (a file) the
// shards are those rows came from.
struct ShardWatermarks {
  struct Mark {
    TimestampMs max_ts = 0;
    TimestampMs last_row_ms = 0;
    bool seen = false;
  };
  std::map<uint32_t, Mark> shards;
  TimestampMs watermark = 0;
  bool have = false;

  void row(uint32_t shard, TimestampMs ts, TimestampMs now);
  void set_shards(const std::vector<uint32_t>& declared, TimestampMs now);
  // Recomputes the watermark at processing time `now`; false if there is none yet, or shards
  // are still waiting for their first row.
  bool advance(TimestampMs now, int64_t idle_timeout_ms, int64_t delay_ms);
  void save_shards(StateWriter& w) const;
  void load_shards(StateReader& r);
};

// The pumps with a file of their own; make_pump (pump.cc) picks one by the plan's mode.
std::unique_ptr<Pump> make_sliding_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                        const Clock& clock);
std::unique_ptr<Pump> make_stagger_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                        const Clock& clock);
std::unique_ptr<Pump> make_items_tumbling_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                               const Clock& clock);
std::unique_ptr<Pump> make_event_window_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                             const Clock& clock);
std::unique_ptr<Pump> make_anomaly_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                        const Clock& clock);
std::unique_ptr<Pump> make_stream_join_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                            const Clock& clock);
std::unique_ptr<Pump> make_group_rank_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                           const Clock& clock);
std::unique_ptr<Pump> make_table_join_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                           const Clock& clock);

}  // namespace eddy::runtime
