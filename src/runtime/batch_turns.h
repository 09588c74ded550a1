// The threads of Program::push_batches: each takes the next batch (claims are ordered under a
// lock: that is the batches' order), prepares it on its own (fill, parse, stateless work), and in
// the batch's turn — batches one at a time, in claim order — runs it through the program's
// operators. Shared by SQL applications and C++ jobs, whose turns differ only in what they run.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "common/worker_pool.h"
#include "runtime/program.h"

namespace eddy::runtime {

// `prepare(k)` fills and prepares thread k's claimed batch; `in_turn(k)` runs it in its turn and
// returns false to stop every thread (batches claimed after it are left).
template <class Prepare, class InTurn>
void take_turns(WorkerPool& pool, const BatchSource& source, Prepare&& prepare, InTurn&& in_turn) {
  std::mutex claim_mu;
  uint64_t claimed = 0;           // guarded by claim_mu
  std::atomic<uint64_t> turn{0};  // the batch whose turn it is
  std::atomic<bool> stop{false};
  pool.run(pool.size(), [&](size_t k) {
    for (;;) {
      uint64_t seq;
      {
        std::lock_guard lock(claim_mu);
        if (stop.load() || !source.claim(k)) return;
        seq = claimed++;
      }
      prepare(k);
      for (uint64_t t = turn.load(std::memory_order_acquire); t != seq; t = turn.load(std::memory_order_acquire)) {
        turn.wait(t, std::memory_order_acquire);
      }
      if (!stop.load(std::memory_order_relaxed) && !in_turn(k)) stop.store(true);
      turn.store(seq + 1, std::memory_order_release);
      turn.notify_all();
    }
  });
}

}  // namespace eddy::runtime
