// A pump's query as run-time operators: INSERT INTO target SELECT STREAM ... FROM source. One
// of several shapes (plain projection, tumbling GROUP BY, sliding OVER windows, stagger
// windows, TOP_K / COUNT_DISTINCT table functions), all with WHERE before and HAVING after.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/aggregate.h"
#include "runtime/expr.h"

namespace eddy::runtime {

class StateWriter;
class StateReader;

struct SlidingWindowSpec {
  std::string name;
  std::vector<ExprPtr> partition_by;
  bool rows = false;
  int64_t rows_preceding = 0;
  int64_t range_ms = 0;
  int order_column = -1;  // Flink: ORDER BY this column (the event-time attribute); KDA: ROWTIME
};

enum class PumpMode {
  kProject,
  kTumbling,
  kSliding,
  kStagger,
  kTopK,
  kCountDistinct,
  kEventWindow,
  kTableJoin,
  kAnomaly,     // RANDOM_CUT_FOREST[_WITH_EXPLANATION], HOTSPOTS (anomaly_pump.cc)
  kStreamJoin,  // two streams joined over their OVER windows (stream_join_pump.cc)
  kGroupRank    // GROUP_RANK (group_rank_pump.cc)
};

// GROUP_RANK (sqlref/sql-reference-group-rank-udx): rows gathered while their ROWTIME stays the
// same (or until max_idle_ms passes without one), ranked by a column, sent out with the rank.
struct GroupRankSpec {
  size_t column = 0;               // the CURSOR's column ranked by
  bool descending = false;         // sortOrder 'desc'
  bool output_descending = false;  // outputOrder 'desc': highest rank first
  int64_t max_idle_ms = 0;         // 0: no idle timeout
  int64_t output_max = 0;          // rows out per group; 0: all
  size_t width = 0;                // the CURSOR's columns
};

// kStreamJoin (sqlref/sql-reference-join-clause, stream-to-stream): the source holds both sides'
// rows, tagged: column 0 is the side (0 left, 1 right), then the left's columns, the right's, and
// each side's ROWTIME. A row meets the other side's rows still in that side's window and goes out
// at once, with its own ROWTIME (the later of the two), as left columns, right columns, the left's
// ROWTIME and the right's. An outer side's row that met nothing goes out with NULLs: at once when
// its side keeps no window, else when it leaves its window, with ROWTIME its own + the window.
struct JoinWindow {
  bool kept = false;  // the side has OVER (...): its rows wait for the other side's
  bool rows = false;  // ROWS n PRECEDING, else RANGE
  int64_t rows_preceding = 0;
  int64_t range_ms = 0;
};
struct StreamJoinSpec {
  JoinWindow window[2];
  bool outer[2] = {false, false};  // LEFT: outer[0]; RIGHT: outer[1]; FULL: both
  size_t width[2] = {0, 0};
  std::vector<ExprPtr> keys[2];  // equal keys, each side's on its own columns
  ExprPtr condition;             // the rest of ON, on the joined row
};

// The machine-learning table functions: each row of the CURSOR goes out with its score (or the
// hotspots of the window it completes) appended.
struct AnomalySpec {
  enum class Kind { kForest, kForestExplained, kHotspots } kind = Kind::kForest;
  std::vector<size_t> columns;     // the CURSOR's numeric columns, the points' dimensions
  std::vector<std::string> names;  // their names (ANOMALY_EXPLANATION's members)
  std::vector<bool> approx;        // whether each holds a DOUBLE/REAL (else an integer)
  size_t width = 0;                // the CURSOR's columns
  int64_t trees = 100, sample_size = 256, time_decay = 100000, shingle_size = 1;
  bool directionality = false;
  int64_t window_size = 1000;
  double scan_radius = 0;
  int64_t min_points = 0;
  uint64_t seed = 0;
};

struct TableSlot;

// kTableJoin: each row of the source joined with a reference table's rows into rows of the source's
// columns then the table's (table_join_pump.cc). Equality conjuncts of ON are an index lookup:
// stream_keys on the row equal table_keys on a table row; `condition` is the rest of ON, on the
// joined row.
struct TableJoinSpec {
  std::string table;
  std::shared_ptr<TableSlot> slot;
  bool left_outer = false;
  std::vector<ExprPtr> stream_keys;
  std::vector<ExprPtr> table_keys;
  ExprPtr condition;
  size_t stream_width = 0, table_width = 0;
};

// Flink window TVF aggregation on event time: the windows of each row, from its time column; a
// window fires when the watermark (max time seen - delay) reaches window_end - 1 ms.
struct EventWindowSpec {
  enum class Kind { kTumble, kHop, kCumulate, kSession } kind = Kind::kTumble;
  int64_t size_ms = 0;   // TUMBLE/HOP size, CUMULATE max size, SESSION gap
  int64_t slide_ms = 0;  // HOP slide, CUMULATE step
  int64_t offset_ms = 0;
  size_t time_column = 0;
  int64_t watermark_delay_ms = 0;
  size_t source_width = 0;                 // columns of the source row; window_start, window_end, window_time follow
  std::vector<ExprPtr> session_partition;  // SESSION: sessions are per value of these
  // Slices ("panes"): each row is aggregated once, into its slice of gcd(size, slide), and windows
  // combine their slices when they fire. Possible when only the GROUP BY reads the window columns;
  // window_slot says which key is window_start (1), window_end (2) or window_time (3), else 0.
  bool panes = false;
  std::vector<int> window_slot;
  // Watermarks are per source shard and the minimum across them; a shard with no row for
  // idle_timeout_ms of processing time (0: never) stops holding the watermark back.
  int64_t idle_timeout_ms = 0;
  bool drop_late = false;  // late rows are dropped silently instead of reported to error_stream
  // Window Top-N: the outputs make an inner row per group; per window the top_n by the inner
  // column top_order (descending if top_desc) are emitted, numbered from 1, as rows of the target
  // made of inner columns (top_columns[j] >= 0) or the row number (-1), cast to top_types.
  int64_t top_n = 0;
  size_t top_order = 0;
  bool top_desc = false;
  std::vector<int> top_columns;
  std::vector<SqlType> top_inner_types, top_types;
};

struct PumpPlan {
  std::string name;
  std::string source;  // in-application stream the pump reads
  std::string target;  // in-application stream it writes
  PumpMode mode = PumpMode::kProject;
  ExprPtr where;
  std::vector<ExprPtr> keys;       // GROUP BY / STAGGER PARTITION BY expressions
  int window_key = -1;             // tumbling: the key that is the (ROWTIME) window
  bool window_on_rowtime = false;  // tumbling: that key is a function of ROWTIME
  bool window_on_change = false;   // tumbling: a MONOTONIC key; a group closes when the key changes
  int64_t stagger_range_ms = 0;
  std::vector<AggregateSpec> aggregates;
  std::vector<SlidingWindowSpec> windows;
  std::vector<int> aggregate_window;  // sliding: index into `windows` per aggregate
  ExprPtr having;
  // Streaming ORDER BY (projections): the first key is a ROWTIME window; rows of a window are
  // emitted sorted by the other keys once the window is complete.
  std::vector<ExprPtr> order_keys;
  std::vector<bool> order_desc;
  EventWindowSpec event;  // kEventWindow; kSliding with event_over: its time fields
  // Flink OVER aggregation (kSliding): rows wait until the watermark passes their event time and
  // are then aggregated in event-time order, RANGE windows with all their peers (flink-sql.md 4).
  bool event_over = false;
  TableJoinSpec join;                  // kTableJoin
  AnomalySpec anomaly;                 // kAnomaly
  StreamJoinSpec stream_join;          // kStreamJoin
  GroupRankSpec group_rank;            // kGroupRank
  std::vector<ExprPtr> outputs;        // one per target column written
  std::vector<size_t> target_columns;  // where each output goes in the target row
  size_t target_width = 0;
  std::vector<SqlType> target_types;
  // Table functions (TOP_K_ITEMS_TUMBLING, COUNT_DISTINCT_ITEMS_TUMBLING)
  size_t tf_column = 0;
  SqlType tf_column_type;
  int64_t tf_k = 0;
  int64_t tf_window_ms = 0;
};

// Pumps whose time is the event time of a column and a watermark (Flink), not ROWTIME.
inline bool uses_event_time(const PumpPlan& p) {
  return p.mode == PumpMode::kEventWindow || (p.mode == PumpMode::kSliding && p.event_over);
}

using EmitFn = std::function<void(const Row&)>;
using ErrorFn = std::function<void(const Row& input, const Error& error)>;

class Pump {
 public:
  virtual ~Pump() = default;
  virtual void on_row(const Row& row) = 0;
  // ROWTIME has reached `t` (a rowtime bound or the wall clock): close what ends at or before it.
  virtual void on_time(TimestampMs t) { (void)t; }
  // End of a bounded input: emit everything still open.
  virtual void flush() {}
  // The source shards being read now (the host says so when the set changes; a bounded input
  // never does): event-time watermarks wait for each of them.
  virtual void on_source_shards(const std::vector<uint32_t>& shards) { (void)shards; }
  // Event-time operators: their current watermark (none before the first); others none.
  virtual std::optional<TimestampMs> event_watermark() const { return std::nullopt; }
  // Keyed pumps run as partitions (KeyedPump) hold rows until drain(): then they run them and
  // emit what they produced. Others emit as they go.
  virtual void drain() {}
  virtual size_t buffered() const { return 0; }
  // Rows run through the partitions as they come, on the calling thread, instead of in parallel
  // at drain(): for callers whose threads are all busy already (Application::push_batches).
  virtual void set_inline(bool on) { (void)on; }

  // A partition of a KeyedPump. Where each row it emits belongs in the order one pump over all
  // keys would emit it: by `time` (the output ROWTIME), then the window's start, then the slice
  // a group first appeared in, then the position (ordinal) of the group's first input row.
  struct EmitOrder {
    TimestampMs time = 0, start = 0, pane = 0;
    uint64_t ordinal = 0;
    auto operator<=>(const EmitOrder&) const = default;
  };
  void set_partition() { partition_ = true; }
  void set_ordinal(uint64_t ordinal) { ordinal_ = ordinal; }  // the next input row's position
  uint64_t ordinal() const { return ordinal_; }
  const EmitOrder& emit_order() const { return order_; }
  // Event time in a partition: the watermark of every source row so far (KeyedPump computes it,
  // since a partition sees only its keys' rows); windows ending by then fire.
  virtual void on_watermark(TimestampMs watermark) { (void)watermark; }
  // Holds windows that time (on_time, a watermark, flush) will close and emit.
  virtual bool waits_for_time() const { return true; }
  // The least time at which time alone makes it emit: the ROWTIME for on_time, the watermark for
  // on_watermark (INT64_MIN: any; INT64_MAX: none).
  virtual TimestampMs due() const { return INT64_MIN; }

  const PumpPlan& plan() const { return *plan_; }

  // Checkpoints: the operator's state (open windows and groups, partitions, watermarks), to be
  // loaded into a pump of the same shape (state_shape(): the mode, the types of its keys,
  // aggregates and columns, its window specification), e.g. after UpdateApplication.
  void save_state(StateWriter& w) const;
  bool load_state(StateReader& r);  // false: the bytes do not hold such a state (nothing changed)
  virtual std::string state_shape() const;

  Pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error, const Clock& clock)
      : plan_(std::move(plan)),
        emit_(std::move(emit)),
        error_(std::move(error)),
        clock_(clock),
        query_start_(clock.now_ms()) {}

 protected:
  virtual void save_more(StateWriter& w) const { (void)w; }
  virtual void load_more(StateReader& r) { (void)r; }

  // WHERE: true if the row passes; evaluation errors go to error_stream.
  bool passes(const Row& row);
  // HAVING, then the select list into a target row; errors go to error_stream.
  void produce(const Row& context_row, const std::vector<Value>* aggregates, const std::vector<Value>* keys,
               TimestampMs rowtime);
  std::optional<Row> make_output(const Row& context_row, const std::vector<Value>* aggregates,
                                 const std::vector<Value>* keys, TimestampMs rowtime);
  // make_output into `out` (its values keep their storage); false if no row (HAVING, an error).
  bool fill_output(Row& out, const Row& context_row, const std::vector<Value>* aggregates,
                   const std::vector<Value>* keys, TimestampMs rowtime);
  EvalContext context(const Row& row) const;

  std::shared_ptr<const PumpPlan> plan_;  // shared by the key groups of a KeyedPump run on one thread
  EmitFn emit_;
  ErrorFn error_;
  const Clock& clock_;
  TimestampMs query_start_ = 0;
  Row output_;  // produce()'s row, reused: emit_ only reads it
  // Partitions (set_partition): the current row's ordinal, the order of what is emitted now; the
  // groups' first ordinals are part of their checkpoints.
  bool partition_ = false;
  uint64_t ordinal_ = 0;
  EmitOrder order_;
};

std::unique_ptr<Pump> make_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error, const Clock& clock);

}  // namespace eddy::runtime
