// A keyed pump (GROUP BY windows, OVER ... PARTITION BY, Flink window aggregations) with its state
// partitioned by key, run on N threads (--parallelism), as Flink's keyed parallelism: a row goes to
// key group hash(key columns) % 128, a copy of the pump owning the state of its keys, and key
// group g runs on worker g % N. What the groups emit is merged back into the order one pump over
// all keys emits it (Pump::EmitOrder): the results are the same rows in the same order for every
// N, and a checkpoint (the groups' states) resumes at any N.
//
// Event time: a key group sees only its keys' rows, so the watermark is kept here, from every row
// of every source shard (the per-shard watermarks merged as one pump merges them), and each group
// is handed the watermark that held before each of its rows: the groups fire the same windows and
// find the same rows late as one pump would.
//
// Rows wait in per-worker buffers until drain(), which the application calls after each batch:
// the workers then run their rows in parallel, and what they emitted is emitted in order. When
// the caller's threads are busy already (parsing, Application::push_batches) rows run inline.
// Error rows the groups report (an aggregate that fails, a late row) are passed on at the end of
// the drain in their rows' order: after what other pumps reported during the batch.
// (Tried: running the workers' shares of a batch on the threads waiting for their turn in
// push_batches, without copies. 1.70 s instead of 1.10 s for the seed at 2 threads: each batch
// moved half of the groups' state between cores and waited for a thread to wake.)
#pragma once

#include <memory>
#include <vector>

#include "common/worker_pool.h"
#include "runtime/pump.h"

namespace eddy::runtime {

// The columns a pump's rows can be partitioned by (plain-column GROUP BY or PARTITION BY keys,
// the same for all its windows); empty if its state is not keyed that way (a global aggregate,
// stagger windows, top-k, session windows and window Top-N, which rank across keys).
std::vector<size_t> partition_columns(const PumpPlan& plan);

// `workers`: one plan per worker thread, each bound from the same code as `plan` (plans hold
// per-node scratch, so threads must not share one). `pool` runs the workers (size >= their
// count), or null for one thread.
std::unique_ptr<Pump> make_keyed_pump(std::unique_ptr<PumpPlan> plan, std::vector<std::unique_ptr<PumpPlan>> partitions,
                                      std::vector<size_t> columns, EmitFn emit, ErrorFn error, const Clock& clock,
                                      WorkerPool* pool);

}  // namespace eddy::runtime
