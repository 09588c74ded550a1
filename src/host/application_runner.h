// One running application: its program, the reader of its source stream, the writer of its
// outputs, its error rows and its checkpoints. A round (step) reads what the source holds,
// pushes it through the program in ROWTIME order, writes the rows it emitted and checkpoints
// when the interval has passed. The host runs rounds on a thread of the runner's own (run), or —
// for tests with a ManualClock — lets the caller step it.
//
// Threads: step(), begin() and finish() on one thread at a time (the runner's, or the caller's
// when stepped); errors(), fault() and the counters from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/worker_pool.h"
#include "host/application_metrics.h"
#include "host/checkpoint.h"
#include "host/checkpoint_store.h"
#include "host/error_ring.h"
#include "host/input_processor.h"
#include "host/output_writer.h"
#include "host/source_reader.h"
#include "runtime/program.h"

namespace eddy::host {

class ApplicationRunner {
 public:
  struct Setup {
    std::string name;                        // the application's
    CheckpointStore* checkpoints = nullptr;  // where its checkpoints are kept
    std::string source;                      // the stream it reads
    size_t threads = 1;                      // its pool (--parallelism)
    int64_t checkpoint_interval_ms = 10'000;
    const std::atomic<size_t>* read_batch = nullptr;  // records per read of a shard
    // After each checkpoint is written: the host keeps its positions with the application.
    std::function<Status(const Checkpoint&)> on_checkpoint;
    // Whether this node still runs the application (cluster mode: holds its lease). Outputs and
    // checkpoints are written only while it does; unset: always.
    std::function<bool()> owns;
    // After fault() changed (on the runner's thread, no lock held): cluster mode publishes it at
    // once (shared_status.h).
    std::function<void(const ApplicationRunner&)> fault_changed;
    // The input's Lambda preprocessor, if it has one: records go through it before the program.
    InputProcessor preprocess;
  };

  ApplicationRunner(Setup setup, std::unique_ptr<runtime::Program> program, stream::StreamStore& store,
                    log::GroupCommitter& committer, DeliveryOutput delivery, const Clock& clock);
  ~ApplicationRunner();

  // Before the first round: outputs, then where reading starts (one of these three).
  Status add_output(const std::string& output, const std::string& target, bool delivery, bool csv);
  Status restore(const Checkpoint& c);
  void resume(std::map<uint32_t, uint64_t> positions, std::set<uint32_t> finished);
  Status start_at_latest() { return reader_.start_at_latest(); }
  // Saves where this run starts as the application's checkpoint, without running a round: how a
  // node that does not run the application (cluster mode) hands a NOW or TRIM_HORIZON start to
  // the node that does, which starts from the checkpoint.
  Status save_start_point();

  // One round; the source records it pushed through the program (0: nothing new).
  size_t step();
  // Rounds on the runner's own thread until stop(), then finish().
  void start_thread();
  // Ends the thread's rounds (or, stepped, finishes here): outputs written, a last checkpoint.
  void stop();

  const std::string& source() const { return setup_.source; }
  const std::vector<std::unique_ptr<OutputWriter::Destination>>& destinations() const {
    return outputs_.destinations();
  }
  const ApplicationCounters& counters() const { return counters_; }
  std::vector<std::string> errors() const;
  // Why the application cannot make progress now (an output it cannot write durably, a
  // checkpoint it cannot save), since when; nothing while all is well. Cleared by a round
  // that writes everything and a checkpoint that is saved.
  struct Fault {
    std::string reason;
    TimestampMs since_ms = 0;
  };
  std::optional<Fault> fault() const;
  // A warning row of the runner's own (eddy apps logs, DescribeApplication's error rows).
  void warn(const char* error_name, const std::string& message) { report("WARNING", error_name, message); }

 private:
  void begin();
  void finish();
  void push(std::vector<SourceBatch> batches, size_t& processed);
  void push_ranges(uint32_t shard, uint64_t from, size_t read_batch, size_t& processed);
  // Records gone to the program: the counters, and the round's count.
  void count_taken(size_t records, TimestampMs last_arrival, size_t& processed);
  // Ranges of read_batch records a program thread reads per round in push_ranges.
  static constexpr size_t kRangesPerThread = 8;
  // Runs the batches through setup_.preprocess (lambda_preprocess.cc); false when an invocation
  // failed: the batches are then kept in pending_ and tried again, and nothing after them is read.
  bool preprocess(std::vector<SourceBatch>& batches);
  Checkpoint take_checkpoint();  // where reading continues, the state, the outputs
  bool checkpoint();
  void report(const char* level, const char* error_name, const std::string& message);
  void clear_fault();
  void pause(std::chrono::milliseconds d);

  Setup setup_;
  std::unique_ptr<runtime::Program> program_;
  const Clock& clock_;
  std::atomic<bool> stop_{false};
  WorkerPool pool_;
  SourceReader reader_;
  OutputWriter outputs_;
  ApplicationCounters counters_;
  std::vector<uint32_t> active_shards_;  // as last told to the program
  bool restored_ = false;                // from a checkpoint (else a fresh start takes one at once)
  bool begun_ = false, finished_ = false;
  TimestampMs last_checkpoint_ = 0;
  bool checkpoint_failed_ = false;
  std::thread thread_;
  mutable std::mutex mu_;  // guards errors_, fault_ and the wake-up
  std::condition_variable cv_;
  ErrorRing errors_;
  std::optional<Fault> fault_;
  // Preprocessing: batches read but not yet through the function, and when to try them again.
  std::vector<SourceBatch> pending_;
  TimestampMs retry_at_ = 0;
  int64_t retry_delay_ms_ = 0;
};

}  // namespace eddy::host
