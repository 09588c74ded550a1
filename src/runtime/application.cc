#include "runtime/application.h"

#include "runtime/reference_table.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <set>

#include "runtime/batch_turns.h"
#include "runtime/flat_ondemand.h"
#include "runtime/keyed_pump.h"
#include "runtime/row_format.h"
#include "runtime/state_codec.h"

namespace eddy::runtime {

const std::vector<StreamColumn>& error_stream_columns() {
  static const std::vector<StreamColumn> kColumns = {{"ERROR_TIME", SqlType::of(TypeId::kTimestamp)},
                                                     {"ERROR_LEVEL", SqlType::varchar(10)},
                                                     {"ERROR_NAME", SqlType::varchar(32)},
                                                     {"MESSAGE", SqlType::varchar(4096)},
                                                     {"DATA_ROWTIME", SqlType::of(TypeId::kTimestamp)},
                                                     {"DATA_ROW", SqlType::varchar(49152)},
                                                     {"PUMP_NAME", SqlType::varchar(128)}};
  return kColumns;
}

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace

std::string input_stream_name(const std::string& prefix, size_t lane) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "_%03zu", lane + 1);
  return prefix + suffix;
}

std::string ApplicationInput::stream(size_t lane) const {
  return table.empty() ? input_stream_name(name_prefix, lane) : table;
}

Result<std::map<std::string, StreamDef>> input_stream_defs(const std::vector<ApplicationInput>& inputs) {
  std::map<std::string, StreamDef> defs;
  for (const auto& in : inputs) {
    if (in.parallelism < 1 || in.parallelism > 64 || (!in.table.empty() && in.parallelism != 1)) {
      return make_error(Errc::kInvalidArgument, "InputParallelism Count must be 1 to 64");
    }
    for (int lane = 0; lane < in.parallelism; ++lane) {
      StreamDef def;
      def.name = in.stream(static_cast<size_t>(lane));
      def.is_input = true;
      for (const auto& c : in.schema.columns) def.columns.push_back({c.name, c.type});
      def.columns.push_back({"APPROXIMATE_ARRIVAL_TIME", SqlType::of(TypeId::kTimestamp)});
      defs[def.name] = std::move(def);
    }
  }
  defs[kErrorStream] = StreamDef{kErrorStream, error_stream_columns(), false};
  return defs;
}

Result<std::unique_ptr<Application>> Application::assemble(ApplicationPlan spec, const Clock& clock) {
  std::unique_ptr<Application> app(new Application(clock));
  app->flink_ = spec.flink;
  app->flink_tables_ = std::move(spec.flink_tables);
  auto& defs = spec.streams;
  auto inputs = std::move(spec.inputs);
  std::map<const PumpPlan*, std::vector<std::unique_ptr<PumpPlan>>> partition_plans;
  for (auto& [index, copies] : spec.partitions) {
    if (index >= spec.pumps.size()) return make_error(Errc::kInternal, "a pump's partitions name no pump");
    partition_plans[spec.pumps[index].get()] = std::move(copies);
  }
  if (!partition_plans.empty()) {
    app->keyed_pool_ = std::make_unique<WorkerPool>(std::max<size_t>(spec.parallelism, 1));
  }

  for (auto& [name, def] : defs) app->streams_[name].def = std::move(def);

  // Order pumps so that every pump comes after the pumps feeding its source; a cycle cannot run.
  std::vector<std::unique_ptr<PumpPlan>> pending = std::move(spec.pumps);
  std::set<std::string> ready_streams;
  for (const auto& [name, node] : app->streams_) {
    bool written = false;
    for (const auto& p : pending) written |= p->target == name;
    if (!written) ready_streams.insert(name);
  }
  while (!pending.empty()) {
    auto it = std::find_if(pending.begin(), pending.end(),
                           [&](const auto& p) { return ready_streams.count(p->source) != 0; });
    if (it == pending.end()) {
      return make_error(Errc::kInvalidArgument,
                        "pump \"" + pending.front()->name +
                            "\" is part of a cycle of pumps (a stream feeds itself); break the cycle");
    }
    auto plan = std::move(*it);
    pending.erase(it);
    const std::string target = plan->target;
    const std::string source = plan->source;
    const std::string pump_name = plan->name;
    Application* self = app.get();
    StreamNode* target_node = &app->streams_[target];  // map nodes never move
    EmitFn emit = [self, target_node](const Row& row) { self->insert(*target_node, row); };
    ErrorFn error = [self, pump_name](const Row& row, const Error& e) {
      const std::string name = e.message.find("division by zero") != std::string::npos ? "Division_By_Zero"
                               : e.message.starts_with("late row")                     ? "Late_Row"
                                                                                       : "Evaluation_Error";
      std::string text;
      for (const auto& v : row.values) {
        if (!text.empty()) text += ",";
        text += v.is_null() ? ""
                            : (v.kind == Value::Kind::kString   ? v.s
                               : v.kind == Value::Kind::kDouble ? format_double(v.d)
                                                                : std::to_string(v.i));
      }
      self->report(pump_name, row, name, e.message, text);
    };
    if (plan->mode == PumpMode::kTableJoin) app->table_slots_[plan->join.table].push_back(plan->join.slot);
    std::unique_ptr<Pump> pump;
    if (auto copies = partition_plans.find(plan.get()); copies != partition_plans.end()) {
      auto columns = partition_columns(*plan);
      pump = make_keyed_pump(std::move(plan), std::move(copies->second), std::move(columns), std::move(emit),
                             std::move(error), clock, app->keyed_pool_.get());
    } else {
      pump = make_pump(std::move(plan), std::move(emit), std::move(error), clock);
    }
    app->streams_[source].readers.push_back(pump.get());
    app->pumps_.push_back(std::move(pump));
    bool target_done = true;
    for (const auto& p : pending) target_done &= p->target != target;
    if (target_done) ready_streams.insert(target);
  }
  app->inputs_ = std::move(inputs);
  for (const auto& in : app->inputs_) {
    app->last_rowtime_.emplace_back(static_cast<size_t>(in.parallelism), INT64_MIN);
    auto& nodes = app->input_nodes_.emplace_back();
    for (int lane = 0; lane < in.parallelism; ++lane) {
      nodes.push_back(&app->streams_[in.stream(static_cast<size_t>(lane))]);
    }
  }
  return app;
}

Status Application::set_table(const std::string& name, std::shared_ptr<const ReferenceTable> table) {
  auto def = streams_.find(name);
  if (def == streams_.end() || !def->second.def.is_table)
    return make_error(Errc::kInvalidArgument, "the application has no reference table \"" + name + "\"");
  for (auto& slot : table_slots_[name]) slot->table = table;
  return {};
}

std::vector<std::string> Application::table_names() const {
  std::vector<std::string> out;
  for (const auto& [name, node] : streams_) {
    if (node.def.is_table) out.push_back(name);
  }
  return out;
}

const StreamDef* Application::stream(const std::string& name) const {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : &it->second.def;
}

std::vector<std::string> Application::stream_names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : streams_) out.push_back(name);
  return out;
}

Status Application::subscribe(const std::string& stream, RowSink sink) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    std::string names;
    for (const auto& [n, _] : streams_) names += (names.empty() ? "" : ", ") + ("\"" + n + "\"");
    return make_error(Errc::kInvalidArgument,
                      "in-application stream \"" + stream + "\" does not exist; the application has " + names);
  }
  it->second.sinks.push_back(std::move(sink));
  return {};
}

void Application::insert(const std::string& stream, const Row& row) {
  insert(streams_[stream], row);
}

void Application::insert(StreamNode& node, const Row& row) {
  for (const auto& sink : node.sinks) sink(row);
  for (auto* pump : node.readers) pump->on_row(row);
}

void Application::report(const std::string& pump, const Row& row, const std::string& name, const std::string& message,
                         std::string_view raw) {
  ++error_rows_;
  Row err;
  err.rowtime = row.rowtime;
  err.origin = row.origin;
  err.values = {Value::integer(clock_.now_ms()),
                Value::text("ERROR"),
                Value::text(name.substr(0, 32)),
                Value::text(message.substr(0, 4096)),
                Value::integer(row.rowtime),
                Value::text(hex(raw.substr(0, 49152 / 2))),
                pump.empty() ? Value::null() : Value::text(pump)};
  insert(kErrorStream, err);
}

namespace {
// The input row's last column, APPROXIMATE_ARRIVAL_TIME, after the schema's `columns`; in place,
// since map_flat leaves it alone (no Value destroyed and made again per record).
void set_arrival_column(std::vector<Value>& values, size_t columns, TimestampMs arrival) {
  values.resize(columns + 1);
  values[columns].set_int(arrival);
}
}  // namespace

void Application::settle() {
  for (auto& p : pumps_) p->drain();  // in dependency order: what one emits, the next one runs
}

void Application::push_record(size_t input, std::string_view record, TimestampMs arrival, int64_t origin, size_t lane) {
  take_record(input, record, arrival, origin, lane);
  settle();
}

void Application::push_document(size_t input, simdjson::dom::element doc, std::string_view raw, TimestampMs arrival,
                                int64_t origin, size_t lane) {
  take_document(input, doc, raw, arrival, origin, lane);
  settle();
}

void Application::push_values(size_t input, std::vector<Value>& values, TimestampMs arrival, int64_t origin) {
  ++rows_in_;
  size_t lane = 0;
  scratch_.shard = 0;
  scratch_.rowtime = next_rowtime(input, lane, arrival);
  scratch_.origin = origin;
  scratch_.values.swap(values);  // both keep their storage for the next record
  set_arrival_column(scratch_.values, inputs_[input].schema.columns.size(), arrival);
  insert(*input_nodes_[input][0], scratch_);
  settle();
}

void Application::take_record(size_t input, std::string_view record, TimestampMs arrival, int64_t origin, size_t lane) {
  if (!inputs_[input].schema.csv) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!parser.parse(record.data(), record.size()).get(doc)) {
      take_document(input, doc, record, arrival, origin, lane);
      return;
    }
  }
  push_rows(input, map_record(inputs_[input].schema, record), record, arrival, origin,
            lane);  // CSV, or the parse error
}

void Application::take_source(size_t input, const SourceRecord& r, TimestampMs arrival) {
  if (r.rejection.empty()) return take_record(input, r.data, arrival, r.origin, r.lane);
  ++rows_in_;
  size_t lane = r.lane;
  Row probe;
  probe.shard = static_cast<uint32_t>(lane);
  probe.rowtime = next_rowtime(input, lane, arrival);
  probe.origin = r.origin;
  report("", probe, r.rejection_name.empty() ? "Record_Parse_Error" : std::string(r.rejection_name),
         std::string(r.rejection), r.data);
}

void Application::take_document(size_t input, simdjson::dom::element doc, std::string_view raw, TimestampMs arrival,
                                int64_t origin, size_t lane) {
  const InputSchema& schema = inputs_[input].schema;
  simdjson::dom::object record;
  if (!schema.flat || doc.get(record)) {
    push_rows(input, map_document(schema, doc), raw, arrival, origin, lane);
    return;
  }
  ++rows_in_;
  scratch_.shard = static_cast<uint32_t>(lane);
  const TimestampMs rowtime = next_rowtime(input, lane, arrival);
  scratch_.rowtime = rowtime;
  scratch_.origin = origin;
  if (field_hints_.size() <= input) field_hints_.resize(input + 1);
  if (auto st = map_flat(schema, record, scratch_.values, field_hints_[input]); !st) {
    report("", scratch_, "Coercion_Error", st.error().message, raw);
    return;
  }
  set_arrival_column(scratch_.values, schema.columns.size(), arrival);
  insert(*input_nodes_[input][lane], scratch_);
}

size_t Application::push_records(size_t input, std::span<const SourceRecord> records, WorkerPool& pool,
                                 const ArrivalOf& arrival_of, bool padded) {
  // Nothing to share or to look at first: one by one. Not with key groups: their rows run, and
  // their error rows come, at the end of a batch, so batches must be the same at every pool size.
  // (Records that can be read on-demand in place go the batch way even then: it reads them so.)
  const bool ondemand = padded && inputs_[input].schema.ondemand;
  if (pool.size() == 1 && !arrival_of && !keyed_pool_ && !ondemand) {
    for (const auto& r : records) {
      take_source(input, r, r.arrival);
      settle();
    }
    return records.size();
  }
  begin_batch(batch_, input, arrival_of, padded, pool.size());
  set_records(batch_, records);
  if (batch_.mapping) pool.run(pool.size(), [&](size_t helper) { map_batch(batch_, helper); });
  return consume_batch(batch_);
}

namespace {
constexpr size_t kMapChunk = 256;  // records a helper takes at a time
}  // namespace

void Application::push_batches(size_t input, WorkerPool& pool, const ArrivalOf& arrival_of, bool padded,
                               const BatchSource& source) {
  const size_t threads = pool.size();
  while (batch_slots_.size() < threads) batch_slots_.push_back(std::make_unique<BatchSlot>());
  // begin_batch reads what consume_batch writes: here before the threads start, then in each
  // thread's turn for its next batch.
  for (size_t k = 0; k < threads; ++k) begin_batch(batch_slots_[k]->batch, input, arrival_of, padded, 1);
  // Every thread parses and maps batches, so keyed pumps' partitions run in the batches' turns
  // on the thread holding the turn, rather than waking threads of their own that would compete
  // for the same cores (and copying rows for them).
  for (auto& p : pumps_) p->set_inline(true);
  take_turns(
      pool, source,
      [&](size_t k) {
        BatchSlot& slot = *batch_slots_[k];
        slot.records.clear();
        source.fill(k, slot.records);
        set_records(slot.batch, slot.records);
        map_batch(slot.batch, 0);
      },
      [&](size_t k) {
        BatchSlot& slot = *batch_slots_[k];
        if (source.before) source.before(k, slot.records);
        const size_t taken = consume_batch(slot.batch);
        const bool go_on = source.done(k, slot.records, taken);
        begin_batch(slot.batch, input, arrival_of, padded, 1);
        return go_on;
      });
  for (auto& p : pumps_) p->set_inline(false);
}

void Application::begin_batch(MappedBatch& batch, size_t input, const ArrivalOf& arrival_of, bool padded,
                              size_t helpers) const {
  batch.input = input;
  batch.records = {};
  batch.arrival_of = arrival_of ? &arrival_of : nullptr;
  batch.padded = padded;
  batch.mapping = !inputs_[input].schema.csv;
  batch.next_chunk = 0;
  if (!batch.mapping) return;
  if (batch.hints.size() < helpers) batch.hints.resize(helpers);
  for (auto& h : batch.hints) {
    if (h.empty() && input < field_hints_.size()) h = field_hints_[input];
  }
}

bool Application::all_padded(std::span<const SourceRecord> records) {
  return !records.empty() && std::all_of(records.begin(), records.end(), [](const auto& r) { return r.padded; });
}

void Application::set_records(MappedBatch& batch, std::span<const SourceRecord> records) const {
  batch.records = records;
  if (!batch.padded) batch.padded = all_padded(records);  // push_batches' records say it themselves
  if (batch.mapping && batch.mapped.size() < records.size()) batch.mapped.resize(records.size());
}

// Parse and map: records that need more than map_flat (not an object, a nested schema, a parse
// error) are left to push_record, which reports exactly what it would one by one.
void Application::map_batch(MappedBatch& batch, size_t helper) const {
  if (!batch.mapping) return;
  thread_local simdjson::dom::parser parser, many_parser;
  thread_local simdjson::ondemand::parser ondemand_parser;
  const InputSchema& schema = inputs_[batch.input].schema;
  std::vector<int>& hints = batch.hints[helper];
  const size_t n = batch.records.size();
  const auto& records = batch.records;
  auto map_one = [&](size_t i, simdjson::dom::element doc) {
    MappedBatch::Mapped& m = batch.mapped[i];
    if (batch.arrival_of) {
      auto t = batch.arrival_of->of(doc);
      if (!t) {
        m.state = MappedBatch::Mapped::State::kNoArrival;
        return;
      }
      m.arrival = *t;
    }
    simdjson::dom::object obj;
    if (!schema.flat || doc.get(obj)) return;
    if (auto st = map_flat(schema, obj, m.values, hints); st) {
      m.state = MappedBatch::Mapped::State::kRow;
    } else {
      m.state = MappedBatch::Mapped::State::kCoercionError;
      m.error = st.error().message;
    }
  };
  const int arrival_column = batch.arrival_of ? batch.arrival_of->column : -1;
  const bool ondemand = batch.padded && schema.ondemand && (!batch.arrival_of || arrival_column >= 0);
  // Record i from the document `it` is at (in a buffer from `start`), on-demand, or alone the
  // general way where that path declines; false if the document is not exactly the record.
  auto take_ondemand = [&](size_t i, simdjson::ondemand::document_stream::iterator& it, const char* start) {
    if ((*it).error()) return false;  // a document in error has no source to ask for
    const SourceRecord& r = records[i];
    // At the document's root, before it is read: where it starts and ends.
    if (it.current_index() != static_cast<size_t>(r.data.data() - start) || it.source().size() != r.data.size()) {
      return false;
    }
    MappedBatch::Mapped& m = batch.mapped[i];
    simdjson::ondemand::document_reference doc;
    simdjson::ondemand::object obj;
    if (!(*it).get(doc) && !doc.get_object().get(obj) &&
        map_flat_ondemand(schema, obj, m.values, hints, arrival_column) &&
        (arrival_column < 0 || !m.values[static_cast<size_t>(arrival_column)].is_null())) {
      if (arrival_column >= 0) m.arrival = m.values[static_cast<size_t>(arrival_column)].i;
      m.state = MappedBatch::Mapped::State::kRow;
      return true;
    }
    simdjson::dom::element general;
    if (!parser.parse(r.data.data(), r.data.size(), false).get(general)) map_one(i, general);
    return true;
  };
  for (;;) {
    const size_t from = batch.next_chunk.fetch_add(kMapChunk, std::memory_order_relaxed);
    if (from >= n) return;
    const size_t to = std::min(n, from + kMapChunk);
    for (size_t i = from; i < to; ++i) {
      batch.mapped[i].state = MappedBatch::Mapped::State::kGeneral;
      batch.mapped[i].arrival = records[i].arrival;
    }
    size_t i = from;
    // Records that are lines of one buffer (sql run's blocks) are parsed with parse_many: one
    // first stage over the chunk instead of one per record, which cost the threads of
    // --parallelism 2 about a tenth of their time. Each document must be exactly its record;
    // from the first that is not (a parse error, two documents in one record), records are
    // parsed one by one, so states and errors are what they would be.
    bool lines = batch.padded && records[from].rejection.empty();
    for (size_t k = from + 1; lines && k < to; ++k) {
      lines = records[k].rejection.empty();
      const char* end = records[k - 1].data.data() + records[k - 1].data.size();
      lines = lines && records[k].data.data() > end && records[k].data.data() - end < 64 &&
              std::all_of(end, records[k].data.data(), [](char c) { return c == '\n'; });
    }
    // Flat records read on-demand, without a DOM (flat_ondemand.h): a chunk of lines with one
    // first stage, as above; other records below, each on its own.
    if (lines && ondemand) {
      const char* start = records[from].data.data();
      const size_t size = static_cast<size_t>(records[to - 1].data.data() + records[to - 1].data.size() - start);
      simdjson::ondemand::document_stream docs;
      if (!ondemand_parser.iterate_many(start, size, size + 1).get(docs)) {
        for (auto it = docs.begin(); it != docs.end() && i < to && take_ondemand(i, it, start); ++it) ++i;
      }
    } else if (lines && to - from > 1) {
      const char* start = records[from].data.data();
      const size_t size = static_cast<size_t>(records[to - 1].data.data() + records[to - 1].data.size() - start);
      simdjson::dom::document_stream docs;
      if (!many_parser.parse_many(start, size, size + 1).get(docs)) {
        for (auto it = docs.begin(); it != docs.end() && i < to; ++it) {
          simdjson::dom::element doc;
          if ((*it).get(doc)) break;  // a document in error has no source to ask for
          if (it.current_index() != static_cast<size_t>(records[i].data.data() - start) ||
              it.source().size() != records[i].data.size()) {
            break;
          }
          map_one(i++, doc);
        }
      }
    }
    for (; i < to; ++i) {
      const SourceRecord& r = records[i];
      if (!r.rejection.empty()) continue;  // reported as it is, in its turn (take_source)
      if (ondemand) {
        simdjson::ondemand::document_stream docs;
        if (!ondemand_parser.iterate_many(r.data.data(), r.data.size(), r.data.size() + 1).get(docs)) {
          auto it = docs.begin();
          if (it != docs.end() && take_ondemand(i, it, r.data.data())) continue;
        }
      }
      simdjson::dom::element doc;
      if (parser.parse(r.data.data(), r.data.size(), !batch.padded).get(doc)) continue;
      map_one(i, doc);
    }
  }
}

// In order, as push_document does for each.
size_t Application::consume_batch(MappedBatch& batch) {
  const size_t input = batch.input;
  const auto records = batch.records;
  const size_t n = records.size();
  if (!batch.mapping) {
    for (const auto& r : records) take_source(input, r, r.arrival);
    settle();
    return n;
  }
  if (field_hints_.size() <= input) field_hints_.resize(input + 1);
  using State = MappedBatch::Mapped::State;
  for (size_t i = 0; i < n; ++i) {
    MappedBatch::Mapped& m = batch.mapped[i];
    const SourceRecord& r = records[i];
    if (m.state == State::kNoArrival) {
      settle();
      return i;
    }
    if (m.state == State::kGeneral) {
      take_source(input, r, m.arrival);
      continue;
    }
    ++rows_in_;
    size_t lane = r.lane;
    scratch_.shard = static_cast<uint32_t>(lane);
    scratch_.rowtime = next_rowtime(input, lane, m.arrival);
    scratch_.origin = r.origin;
    if (m.state == State::kCoercionError) {
      report("", scratch_, "Coercion_Error", m.error, r.data);
      continue;
    }
    scratch_.values.swap(m.values);  // both keep their storage for the next batch
    set_arrival_column(scratch_.values, inputs_[input].schema.columns.size(), m.arrival);
    insert(*input_nodes_[input][lane], scratch_);
  }
  settle();
  return n;
}

TimestampMs Application::next_rowtime(size_t input, size_t& lane, TimestampMs arrival) {
  auto& lanes = last_rowtime_[input];
  if (lane >= lanes.size()) lane %= lanes.size();  // (a division per row cost the serial part ~3 %)
  // ROWTIME never decreases within a stream: a record arriving "earlier" takes the last ROWTIME.
  const TimestampMs rowtime = std::max(arrival, lanes[lane]);
  lanes[lane] = rowtime;
  rowtime_reached_ = std::max(rowtime_reached_, rowtime);
  return rowtime;
}

void Application::push_rows(size_t input, Result<std::vector<std::vector<Value>>> rows, std::string_view record,
                            TimestampMs arrival, int64_t origin, size_t lane) {
  ++rows_in_;
  const auto shard = static_cast<uint32_t>(lane);
  const TimestampMs rowtime = next_rowtime(input, lane, arrival);
  Row probe;
  probe.shard = shard;
  probe.rowtime = rowtime;
  probe.origin = origin;
  if (!rows) {
    const bool parse = rows.error().message.starts_with("record is not valid JSON") ||
                       rows.error().message.starts_with("RecordRowPath") ||
                       rows.error().message.starts_with("record row");
    report("", probe, parse ? "Record_Parse_Error" : "Coercion_Error", rows.error().message, record);
    return;
  }
  StreamNode& node = *input_nodes_[input][lane];
  for (auto& values : *rows) {
    Row row;
    row.rowtime = rowtime;
    row.origin = origin;
    row.shard = shard;
    row.values = std::move(values);
    row.values.push_back(Value::integer(arrival));  // APPROXIMATE_ARRIVAL_TIME
    insert(node, row);
  }
}

void Application::set_source_shards(size_t input, const std::vector<uint32_t>& shards) {
  for (StreamNode* node : input_nodes_[input]) {
    for (Pump* p : node->readers) p->on_source_shards(shards);
  }
  settle();
}

void Application::advance_time(TimestampMs t) {
  rowtime_reached_ = std::max(rowtime_reached_, t);
  for (auto& p : pumps_) p->on_time(t);
  settle();
}

std::optional<TimestampMs> Application::watermark() const {
  std::optional<TimestampMs> least;
  bool event_time = false;
  for (const auto& p : pumps_) {
    if (!uses_event_time(p->plan())) continue;
    event_time = true;
    const auto w = p->event_watermark();
    if (!w) return std::nullopt;  // one that has seen nothing holds every result back
    least = least ? std::min(*least, *w) : *w;
  }
  if (event_time) return least;
  if (rowtime_reached_ == INT64_MIN) return std::nullopt;
  return rowtime_reached_;
}

void Application::flush() {
  for (auto& p : pumps_) p->flush();  // a keyed pump runs what it holds first
  settle();
}

namespace {
constexpr std::string_view kStateMagic = "eddy-state-1";

// Shapes that differ only by a keyed pump's key groups.
bool same_but_parallelism(const std::string& a, const std::string& b) {
  auto plain = [](const std::string& s) { return s.substr(0, s.rfind("; key groups ")); };
  return plain(a) == plain(b);
}
}  // namespace

std::string Application::save_state() const {
  StateWriter w;
  w.str(kStateMagic);
  w.u64(rows_in_);
  w.u64(error_rows_);
  w.u64(last_rowtime_.size());
  for (const auto& lanes : last_rowtime_) {
    w.u64(lanes.size());
    for (TimestampMs t : lanes) w.i64(t);
  }
  w.u64(pumps_.size());
  for (const auto& p : pumps_) {
    StateWriter own;
    p->save_state(own);
    w.str(p->plan().name);
    w.str(p->state_shape());
    w.str(own.bytes());
  }
  return w.take();
}

namespace {

// A pump that keeps nothing between rows (a projection without ORDER BY, a join with a reference
// table): its coming or going loses nothing, so it is not worth a note.
bool keeps_no_state(const std::string& shape) {
  const bool projection = shape.starts_with("mode " + std::to_string(static_cast<int>(PumpMode::kProject)) + ";") &&
                          shape.find("; order; ") != std::string::npos;
  return projection || shape.starts_with("mode " + std::to_string(static_cast<int>(PumpMode::kTableJoin)) + ";");
}

}  // namespace

Result<std::vector<std::string>> Application::load_state(std::string_view bytes) {
  StateReader r(bytes);
  if (r.str() != kStateMagic || !r.ok()) return make_error(Errc::kInvalidArgument, "not an application state");
  const uint64_t rows_in = r.u64(), error_rows = r.u64();
  std::vector<std::vector<TimestampMs>> rowtimes(r.count());
  for (auto& lanes : rowtimes) {
    lanes.resize(r.count());
    for (auto& t : lanes) t = r.i64();
  }
  struct Saved {
    std::string shape, bytes;
    bool used = false;
  };
  std::map<std::string, Saved> saved;
  const size_t n = r.count(24);
  for (size_t i = 0; i < n && r.ok(); ++i) {
    std::string name = r.str();
    Saved s;
    s.shape = r.str();
    s.bytes = r.str();
    saved.emplace(std::move(name), std::move(s));
  }
  if (!r.done()) return make_error(Errc::kInvalidArgument, "the application state is truncated or corrupt");

  std::vector<std::string> notes;
  std::vector<std::pair<Pump*, const Saved*>> loads;
  for (const auto& p : pumps_) {
    const std::string& name = p->plan().name;
    auto it = saved.find(name);
    if (it == saved.end()) {
      if (!keeps_no_state(p->state_shape())) notes.push_back("pump " + name + " is new: it starts with no state");
    } else if (it->second.shape != p->state_shape() && same_but_parallelism(it->second.shape, p->state_shape())) {
      // One pump, or key groups (keyed_pump.h): one cannot become the other. The server's
      // applications have key groups at every parallelism; an eddy before 2026-12-05 had one pump
      // at --parallelism 1.
      const bool grouped = it->second.shape.size() > p->state_shape().size();
      notes.push_back("pump " + name + " was saved " + (grouped ? "with" : "without") +
                      " key groups and its state cannot move " + (grouped ? "out of" : "into") +
                      " them: it starts with no state (a checkpoint of eddy serve at --parallelism 1 "
                      "before key groups were kept at every parallelism)");
    } else if (it->second.shape != p->state_shape()) {
      notes.push_back("pump " + name + " changed shape (" + it->second.shape + " -> " + p->state_shape() +
                      "): its saved state was dropped and it starts with no state");
    } else {
      loads.emplace_back(p.get(), &it->second);
    }
    if (it != saved.end()) it->second.used = true;
  }
  for (const auto& [name, s] : saved) {
    if (!s.used && !keeps_no_state(s.shape)) notes.push_back("pump " + name + " is gone: its saved state was dropped");
  }
  for (auto& [pump, s] : loads) {
    StateReader pr(s->bytes);
    if (!pump->load_state(pr) || !pr.done()) {
      return make_error(Errc::kInvalidArgument, "the saved state of pump " + pump->plan().name + " is corrupt");
    }
  }
  rows_in_ = rows_in;
  error_rows_ = error_rows;
  for (size_t i = 0; i < rowtimes.size() && i < last_rowtime_.size(); ++i) {
    for (size_t l = 0; l < rowtimes[i].size() && l < last_rowtime_[i].size(); ++l) last_rowtime_[i][l] = rowtimes[i][l];
  }
  return notes;
}

Status Application::subscribe_records(const std::string& name, bool csv, std::function<void(std::string)> sink) {
  const StreamDef* def = stream(name);
  if (!def)
    return make_error(Errc::kInvalidApplicationConfiguration, "Output " + name + " is not an in-application stream");
  return subscribe(name, [def = *def, csv, sink = std::move(sink)](const Row& row) {
    sink(csv ? csv_line(def, row) : row_json(def, row));
  });
}

void Application::subscribe_errors(std::function<void(std::string)> sink) {
  (void)subscribe(kErrorStream, [def = StreamDef{kErrorStream, error_stream_columns(), false},
                                 sink = std::move(sink)](const Row& row) { sink(row_json(def, row)); });
}

}  // namespace eddy::runtime
