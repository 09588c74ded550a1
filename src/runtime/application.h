// A running SQL application: its in-application streams, the pumps between them, the input
// mapping that feeds the first stream, and error_stream. Single-threaded and deterministic:
// the same records with the same arrival times give the same rows, whatever the batching.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/worker_pool.h"
#include "runtime/input_schema.h"
#include "runtime/program.h"
#include "runtime/pump.h"

namespace eddy::runtime {

struct StreamColumn {
  std::string name;
  SqlType type;
};

struct StreamDef {
  std::string name;
  std::vector<StreamColumn> columns;
  bool is_input = false;
  bool is_table = false;  // a reference data table: joined with streams, never read as one
};

struct ApplicationInput {
  std::string name_prefix = "SOURCE_SQL_STREAM";  // creates <prefix>_001 ... <prefix>_00n
  InputSchema schema;
  int parallelism = 1;  // InputParallelism.Count: n in-application input streams
  std::string table;    // Flink: the source table it feeds (its stream has the table's name)

  std::string stream(size_t lane) const;
};

// "<prefix>_001" for lane 0.
std::string input_stream_name(const std::string& prefix, size_t lane = 0);

inline constexpr const char* kErrorStream = "error_stream";
const std::vector<StreamColumn>& error_stream_columns();

using RowSink = std::function<void(const Row&)>;

// Flink SQL: a CREATE TABLE as the host needs it (where its rows come from or go to).
struct FlinkTable {
  std::string name;
  bool sink = false;                           // an INSERT writes it
  std::map<std::string, std::string> options;  // WITH (...)
};

// An application as planned from its code, before it runs (see Application::assemble).
struct ApplicationPlan {
  bool flink = false;
  std::vector<FlinkTable> flink_tables;
  std::vector<ApplicationInput> inputs;
  std::map<std::string, StreamDef> streams;  // the inputs' lanes, error_stream and the script's
  std::vector<std::unique_ptr<PumpPlan>> pumps;
  // Keyed pumps that run as partitions (keyed_pump.h): by index into `pumps`, a plan per partition.
  std::map<size_t, std::vector<std::unique_ptr<PumpPlan>>> partitions;
  size_t parallelism = 1;  // the partitions' threads
};

// The in-application streams of `inputs` (a stream per lane, with APPROXIMATE_ARRIVAL_TIME) and
// error_stream; an error if an input's parallelism is out of range.
Result<std::map<std::string, StreamDef>> input_stream_defs(const std::vector<ApplicationInput>& inputs);

struct ReferenceTable;
struct TableSlot;

class Application final : public Program {
 public:
  // Builds the application the SQL front end planned (sql/compile.h makes the plan from code):
  // its streams, pumps in an order where every pump comes after those feeding its source (a
  // cycle is an error), and the keyed pumps split into the partitions given.
  static Result<std::unique_ptr<Application>> assemble(ApplicationPlan spec, const Clock& clock);

  const StreamDef* stream(const std::string& name) const;
  std::vector<std::string> stream_names() const;
  // Receives every row inserted into `stream` (an output or error_stream).
  Status subscribe(const std::string& stream, RowSink sink);
  // Program: an in-application stream's rows as JSON (or CSV) lines; error_stream rows as JSON.
  Status subscribe_records(const std::string& stream, bool csv, std::function<void(std::string)> sink) override;
  void subscribe_errors(std::function<void(std::string)> sink) override;

  // One source record of input `input` arriving at `arrival`: mapped by the input schema into the
  // input stream with ROWTIME = arrival (never decreasing), or into error_stream.
  // With InputParallelism n, `lane` (0..n-1) picks the stream <prefix>_00<lane+1>.
  void push_record(size_t input, std::string_view record, TimestampMs arrival, int64_t origin,
                   size_t lane = 0) override;
  // The same for a JSON record the caller has parsed already (`raw` is its text, for error_stream).
  void push_document(size_t input, simdjson::dom::element doc, std::string_view raw, TimestampMs arrival,
                     int64_t origin, size_t lane = 0);
  // The same for a record already mapped to its input row's columns (map_flat_ondemand); takes
  // `values`' contents and leaves it storage to map the next record into.
  void push_values(size_t input, std::vector<Value>& values, TimestampMs arrival, int64_t origin);
  // Records of input `input` in order, taken exactly as push_record one by one would take them
  // (the same rows, ROWTIMEs and error rows), with the JSON parsing and input mapping of flat
  // records spread over `pool`'s threads; the pumps run on the calling thread, in record order.
  // `arrival_of` (optional, run on any thread) takes a record's arrival time from its document
  // instead of `arrival`; where it has none, taking stops: the count of records taken is returned.
  using SourceRecord = runtime::SourceRecord;
  struct ArrivalOf {
    std::function<std::optional<TimestampMs>(simdjson::dom::element doc)> of;
    // >= 0: the input column (a TIMESTAMP mapping the same field, flat_ondemand.h) that holds
    // the time `of` would find, so records read on-demand take it from their row.
    int column = -1;
    explicit operator bool() const { return static_cast<bool>(of); }
  };
  // `padded`: each record's bytes are followed by simdjson::SIMDJSON_PADDING readable bytes, so
  // it is parsed in place.
  size_t push_records(size_t input, std::span<const SourceRecord> records, WorkerPool& pool,
                      const ArrivalOf& arrival_of, bool padded);
  void push_records(size_t input, std::span<const SourceRecord> records, WorkerPool& pool) override {
    (void)push_records(input, records, pool, {}, all_padded(records));
  }

  // push_records in steps, so that other batches are parsed and mapped while the pumps run one
  // (`eddy sql run --parallelism`): begin_batch (not while another thread runs consume_batch),
  // set_records (any thread), map_batch (any threads once set_records has returned, each with
  // its own `helper` index below the `helpers` given, each taking chunks of records until none
  // are left), then consume_batch (one thread at a time, batches in record order, after every
  // map_batch call of the batch has returned; the count taken, as push_records).
  // A batch's records must stay valid until it is consumed.
  class MappedBatch {
   public:
    MappedBatch() = default;
    MappedBatch(const MappedBatch&) = delete;
    MappedBatch& operator=(const MappedBatch&) = delete;

   private:
    friend class Application;
    struct Mapped {
      enum class State : uint8_t { kRow, kCoercionError, kGeneral, kNoArrival } state = State::kGeneral;
      std::vector<Value> values;
      std::string error;
      TimestampMs arrival = 0;
    };
    size_t input = 0;
    std::span<const SourceRecord> records;
    const ArrivalOf* arrival_of = nullptr;
    bool padded = false;
    bool mapping = false;                 // false: every record goes through push_record (CSV)
    std::vector<Mapped> mapped;           // kept between batches so that values keep their storage
    std::vector<std::vector<int>> hints;  // map_flat's field order hints, per helper
    std::atomic<size_t> next_chunk{0};
  };
  void begin_batch(MappedBatch& batch, size_t input, const ArrivalOf& arrival_of, bool padded, size_t helpers) const;
  // Whether every record says it is padded (SourceRecord::padded).
  static bool all_padded(std::span<const SourceRecord> records);
  void set_records(MappedBatch& batch, std::span<const SourceRecord> records) const;
  void map_batch(MappedBatch& batch, size_t helper) const;
  size_t consume_batch(MappedBatch& batch);
  // Batches of input `input` spread over `pool`'s threads (see BatchSource): each thread takes a
  // batch, fills in, parses and maps its records, then in the batch's turn runs its rows through
  // the pumps (the same rows and errors as push_records one batch after the other). A batch
  // stays on one core from its bytes to the pumps; only the pumps' state moves between cores.
  // `arrival_of` and `padded` as for push_records.
  void push_batches(size_t input, WorkerPool& pool, const ArrivalOf& arrival_of, bool padded,
                    const BatchSource& source);
  void push_batches(size_t input, WorkerPool& pool, const BatchSource& source) override {
    push_batches(input, pool, {}, false, source);
  }
  // ROWTIME has reached `t` with no new rows: windows ending by then close.
  void advance_time(TimestampMs t) override;
  // End of a bounded input: every open window emits.
  void flush() override;
  // The shards of input `input`'s source being read now (see Pump::on_source_shards).
  void set_source_shards(size_t input, const std::vector<uint32_t>& shards) override;
  // The least event-time watermark of its Flink window pumps if it has any, else the ROWTIME
  // reached (by rows or by advance_time): ROWTIME windows are complete up to there.
  std::optional<TimestampMs> watermark() const override;

  // Checkpoints: ROWTIME per input lane, the counters and each pump's state, by pump name with
  // its shape (Pump::state_shape).
  std::string save_state() const override;
  // Loads what save_state wrote, perhaps by older code (UpdateApplication): pumps are matched by
  // name; a pump that is new or whose shape changed starts empty, and the returned notes say
  // which. An error if the bytes are not a saved state: the application may then be half-loaded
  // and is to be built anew.
  Result<std::vector<std::string>> load_state(std::string_view bytes) override;

  // Reference tables (StreamDef::is_table): their rows, given before the first row; a table
  // changes only in a newly assembled application. An error if the code declares no such table.
  Status set_table(const std::string& name, std::shared_ptr<const ReferenceTable> table);
  std::vector<std::string> table_names() const;

  size_t input_count() const { return inputs_.size(); }
  bool flink() const { return flink_; }
  const std::vector<FlinkTable>& flink_tables() const { return flink_tables_; }
  const ApplicationInput& input(size_t i) const { return inputs_[i]; }
  uint64_t rows_in() const { return rows_in_; }
  uint64_t error_rows() const { return error_rows_; }

 private:
  struct StreamNode {
    StreamDef def;
    std::vector<Pump*> readers;
    std::vector<RowSink> sinks;
  };
  Application(const Clock& clock) : clock_(clock) {}
  void insert(const std::string& stream, const Row& row);
  // Runs the rows keyed pumps hold through their partitions (see keyed_pump.h): at the end of
  // every call that takes rows or time, so that no output waits for the next call.
  void settle();
  void take_record(size_t input, std::string_view record, TimestampMs arrival, int64_t origin, size_t lane);
  // take_record for a source record, which may be one its reader rejected.
  void take_source(size_t input, const SourceRecord& r, TimestampMs arrival);
  void take_document(size_t input, simdjson::dom::element doc, std::string_view raw, TimestampMs arrival,
                     int64_t origin, size_t lane);
  void insert(StreamNode& node, const Row& row);
  void report(const std::string& pump, const Row& row, const std::string& name, const std::string& message,
              std::string_view raw);
  void push_rows(size_t input, Result<std::vector<std::vector<Value>>> rows, std::string_view raw, TimestampMs arrival,
                 int64_t origin, size_t lane);
  // ROWTIME of a record arriving at `arrival` on `lane` (normalised), never decreasing.
  TimestampMs next_rowtime(size_t input, size_t& lane, TimestampMs arrival);

  const Clock& clock_;
  std::map<std::string, StreamNode> streams_;
  std::vector<std::unique_ptr<Pump>> pumps_;                                    // in dependency order
  std::map<std::string, std::vector<std::shared_ptr<TableSlot>>> table_slots_;  // by table, its joins' slots
  std::unique_ptr<WorkerPool> keyed_pool_;  // the partitions' threads (parallelism > 1)
  std::vector<ApplicationInput> inputs_;
  std::vector<std::vector<TimestampMs>> last_rowtime_;  // per input, per lane
  TimestampMs rowtime_reached_ = INT64_MIN;             // the largest ROWTIME or advance_time
  std::vector<std::vector<StreamNode*>> input_nodes_;   // per input, per lane
  uint64_t rows_in_ = 0;
  uint64_t error_rows_ = 0;
  bool flink_ = false;
  std::vector<FlinkTable> flink_tables_;
  Row scratch_;        // the input row of flat JSON records, reused so its values keep their storage
  MappedBatch batch_;  // push_records' batch
  struct BatchSlot {   // push_batches': one per thread, kept so that values keep their storage
    MappedBatch batch;
    std::vector<SourceRecord> records;
  };
  std::vector<std::unique_ptr<BatchSlot>> batch_slots_;
  std::vector<std::vector<int>> field_hints_;  // per input: map_flat's field order hints

  friend class ApplicationBuilder;
};

}  // namespace eddy::runtime
