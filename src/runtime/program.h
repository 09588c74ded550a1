// What the application host runs: a SQL application (runtime::Application) or a C++ job
// (job::JobProgram). The host feeds it the source records in ROWTIME order, tells it when time
// passes and which shards it reads, takes its state at checkpoints, and writes what its outputs
// emit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/worker_pool.h"

#include <nlohmann/json_fwd.hpp>

namespace eddy::runtime {

// A source record as the host hands it over.
struct SourceRecord {
  std::string_view data;
  TimestampMs arrival = 0;
  int64_t origin = 0;
  size_t lane = 0;
  // Set when the reader could not hand the record over as data (a corrupt KPL aggregate): why.
  // The program reports it (a SQL application: an error_stream row with the reason and `data`).
  std::string_view rejection;
  std::string_view rejection_name;  // its error row's ERROR_NAME; empty: Record_Parse_Error
  // `data` is followed by simdjson::SIMDJSON_PADDING readable bytes: parsed in place.
  bool padded = false;
};

// Batches of records handed to a program a thread at a time (Program::push_batches): each thread
// takes the next batch (claim, under a lock: batches are ordered as claimed), fills in its
// records (fill, on that thread, in parallel with the others), and in the batch's turn (batches
// in claim order) the records go through the program.
struct BatchSource {
  std::function<bool(size_t thread)> claim;  // false: no batch left
  std::function<void(size_t thread, std::vector<SourceRecord>& records)> fill;
  // In the batch's turn, before its records go through (it may still change them; optional).
  std::function<void(size_t thread, std::vector<SourceRecord>& records)> before;
  // After them, with the count taken (all but for Application::push_batches with an arrival
  // time that a record lacks); false stops every thread.
  std::function<bool(size_t thread, const std::vector<SourceRecord>& records, size_t taken)> done;
};

class Program {
 public:
  virtual ~Program() = default;
  // Batches in order, each taken as push_records would take it; a program may spread the work
  // before its operators over `pool`'s threads. This one does them one after the other.
  virtual void push_batches(size_t input, WorkerPool& pool, const BatchSource& source) {
    std::vector<SourceRecord> records;
    while (source.claim(0)) {
      records.clear();
      source.fill(0, records);
      if (source.before) source.before(0, records);
      push_records(input, records, pool);
      if (!source.done(0, records, records.size())) return;
    }
  }
  // Several records, in order, taken exactly as push_record one by one would take them; a
  // program may do the work before its operators on `pool`'s threads.
  virtual void push_records(size_t input, std::span<const SourceRecord> records, WorkerPool& pool) {
    (void)pool;
    for (const auto& r : records) push_record(input, r.data, r.arrival, r.origin, r.lane);
  }
  // One source record of input `input` that arrived at `arrival` in source shard `lane`.
  virtual void push_record(size_t input, std::string_view record, TimestampMs arrival, int64_t origin, size_t lane) = 0;
  // Time has reached `t` with no new records: windows ending by then close.
  virtual void advance_time(TimestampMs t) = 0;
  // End of a bounded input: everything open emits.
  virtual void flush() = 0;
  // The source shards being read now: event-time watermarks wait for each of them.
  virtual void set_source_shards(size_t input, const std::vector<uint32_t>& shards) = 0;
  // The time up to which the program's windows are complete: the minimum event-time watermark
  // of its event-time operators, or the ROWTIME (or processing time) its windows have reached;
  // none before any. The dashboard shows the wall clock minus this as the watermark lag.
  virtual std::optional<TimestampMs> watermark() const = 0;
  // Checkpoints (see Application::save_state / load_state).
  virtual std::string save_state() const = 0;
  virtual Result<std::vector<std::string>> load_state(std::string_view bytes) = 0;
  // The records output `name` emits, formatted: an in-application stream's rows as JSON (or CSV)
  // lines; a job sink's elements as its format makes them.
  virtual Status subscribe_records(const std::string& name, bool csv, std::function<void(std::string)> sink) = 0;
  // error_stream rows, as JSON objects.
  virtual void subscribe_errors(std::function<void(std::string)> sink) = 0;
};

// C++ jobs reach the host through a loader (job/host_loader.h) that turns a library and its
// property groups (KDA's PropertyGroups: [{PropertyGroupId, PropertyMap}]) into a program with
// its source and sinks: the host never depends on the job module.
struct ProgramOutput {
  std::string name;    // the program's output
  std::string target;  // a stream, or a delivery stream
  bool delivery = false;
};
struct LoadedProgram {
  std::unique_ptr<Program> program;
  std::string source;
  std::string start;  // TRIM_HORIZON or NOW: where a first run reads from
  std::vector<ProgramOutput> outputs;
};
using JobLoader =
    std::function<Result<LoadedProgram>(const std::filesystem::path& library, const nlohmann::json& property_groups)>;

}  // namespace eddy::runtime
