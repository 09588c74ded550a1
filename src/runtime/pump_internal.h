// Helpers the pump implementations share (pump.cc, event_window_pump.cc); not part of the
// runtime's interface.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "runtime/pump.h"

namespace eddy::runtime {

using KeyMap = std::unordered_map<std::vector<Value>, size_t, RowKeyHash>;

// Evaluates expressions into `out`; false (after reporting) on an evaluation error.
// `skip`: an index whose value the caller already has (-1: none).
bool eval_all(const std::vector<ExprPtr>& exprs, const EvalContext& ctx, std::vector<Value>& out, const Row& row,
              const ErrorFn& error, int skip = -1);

// Adds one input row to a set of accumulators (one per aggregate); `only`/`window` restrict it to
// the aggregates of one sliding window.
bool accumulate(const std::vector<AggregateSpec>& aggs, const std::vector<int>* only, int window, const EvalContext& ctx,
                std::vector<Accumulator>& accs, const Row& row, const ErrorFn& error);

// The aggregates' values.
std::vector<Value> results(const std::vector<AggregateSpec>& aggs, const std::vector<Accumulator>& accs);

std::unique_ptr<Pump> make_event_window_pump(std::unique_ptr<PumpPlan> plan, EmitFn emit, ErrorFn error, const Clock& clock);

}  // namespace eddy::runtime
