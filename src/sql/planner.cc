// Plans the query of each pump (or INSERT INTO, or branch of a UNION ALL): which run-time pump runs
// it and how (projection, tumbling GROUP BY, stagger, sliding OVER, TOP_K / COUNT_DISTINCT table
// functions, Flink window TVFs and window Top-N), its expressions bound by QueryBinder.

#include "sql/planner.h"

#include "sql/planner_internal.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "sql/functions.h"
#include "sql/log_parse_call.h"
#include "sql/query_binder.h"

namespace eddy::sql {

using runtime::PumpMode;
using runtime::PumpPlan;
using runtime::StreamDef;

namespace {

bool has_windowed_aggregate(const Expr& e) {
  if (e.kind == ExprKind::kFunction && (e.window || !e.window_name.empty())) return true;
  for (const auto& a : e.args) {
    if (has_windowed_aggregate(*a)) return true;
  }
  return false;
}

}  // namespace

Result<int64_t> integer_literal(const Expr& e, const char* what) {
  int64_t v = 0;
  if (e.kind != ExprKind::kLiteral || !e.type.is_integer() ||
      std::from_chars(e.text.data(), e.text.data() + e.text.size(), v).ec != std::errc())
    return error_at(e.loc, std::string(what) + " must be a whole number");
  return v;
}

namespace {

bool mentions_window_columns(const Expr& e) {
  if (e.kind == ExprKind::kColumn && (e.text == "window_start" || e.text == "window_end" || e.text == "window_time"))
    return true;
  for (const auto& a : e.args) {
    if (mentions_window_columns(*a)) return true;
  }
  return false;
}

// An aggregate function call whose argument reads a window column (then windows cannot be built
// from slices).
bool aggregate_reads_window(const Expr& e) {
  if (e.kind == ExprKind::kFunction && is_aggregate_function(e.text)) {
    for (const auto& a : e.args) {
      if (mentions_window_columns(*a)) return true;
    }
  }
  for (const auto& a : e.args) {
    if (aggregate_reads_window(*a)) return true;
  }
  return false;
}

// The Flink window TVF in FROM: its table, window kind and intervals into the plan, and the scope
// the query sees (the table's columns, then window_start, window_end, window_time).
Status plan_window_tvf(const FromItem& from, PumpPlan& plan, const std::map<std::string, StreamDef>& streams,
                       const std::map<std::string, EventTime>& event_time, StreamDef& derived) {
  auto src = streams.find(from.tvf_table.name);
  if (src == streams.end())
    return error_at(from.tvf_table.loc, "table " + quote(from.tvf_table.name) + " does not exist");
  auto et = event_time.find(from.tvf_table.name);
  if (et == event_time.end()) {
    return error_at(
        from.tvf_table.loc,
        "table " + quote(from.tvf_table.name) +
            " has no WATERMARK: window functions need an event-time column (WATERMARK FOR ts AS ts - INTERVAL ...)");
  }
  if (from.descriptor.name != et->second.column) {
    return error_at(from.descriptor.loc, "DESCRIPTOR(" + from.descriptor.name +
                                             ") must name the table's event-time column " + quote(et->second.column) +
                                             " (the one with the WATERMARK)");
  }
  const auto& cols = src->second.columns;
  auto tc = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == et->second.column; });
  if (tc == cols.end()) return error_at(from.descriptor.loc, "column " + quote(et->second.column) + " not found");
  auto& ev = plan.event;
  ev.time_column = static_cast<size_t>(tc - cols.begin());
  ev.watermark_delay_ms = et->second.delay_ms;
  ev.idle_timeout_ms = et->second.idle_timeout_ms;
  ev.drop_late = et->second.drop_late;
  ev.source_width = cols.size();
  std::vector<int64_t> ms;
  for (const auto& a : from.function_args) {
    if (a->kind != ExprKind::kInterval || a->type.id != TypeId::kIntervalDayTime || a->interval_value < 0) {
      return error_at(a->loc, "window sizes are day-to-second INTERVAL literals, e.g. INTERVAL '10' MINUTES");
    }
    ms.push_back(a->interval_value);
  }
  const std::string& kind = from.window_tvf;
  auto args = [&](size_t lo, size_t hi, const char* shape) -> Status {
    if (ms.size() < lo || ms.size() > hi)
      return error_at(from.loc, kind + " takes (TABLE t, DESCRIPTOR(ts), " + shape + ")");
    return {};
  };
  if (kind == "TUMBLE") {
    if (auto st = args(1, 2, "size [, offset]"); !st) return st;
    ev.kind = runtime::EventWindowSpec::Kind::kTumble;
    ev.size_ms = ms[0];
    ev.slide_ms = ms[0];
  } else if (kind == "HOP" || kind == "CUMULATE") {
    if (auto st = args(2, 3, kind == "HOP" ? "slide, size [, offset]" : "step, max size [, offset]"); !st) return st;
    ev.kind = kind == "HOP" ? runtime::EventWindowSpec::Kind::kHop : runtime::EventWindowSpec::Kind::kCumulate;
    ev.slide_ms = ms[0];
    ev.size_ms = ms[1];
    // CUMULATE needs whole steps; HOP does not (the seed's job slides 90 s windows every 60 s, as
    // Flink's legacy HOP group window and DataStream sliding windows allow).
    if (ev.slide_ms <= 0 || (kind == "CUMULATE" && ev.size_ms % ev.slide_ms != 0)) {
      return error_at(from.loc, kind == "HOP"
                                    ? std::string("HOP's slide must be positive")
                                    : std::string("CUMULATE's max size must be a whole multiple of its step"));
    }
  } else if (kind == "SESSION") {
    if (auto st = args(1, 1, "gap"); !st) return st;
    ev.kind = runtime::EventWindowSpec::Kind::kSession;
    ev.size_ms = ms[0];
  } else {
    return error_at(from.loc, kind + " is not a window function (TUMBLE, HOP, CUMULATE, SESSION)");
  }
  if (ev.size_ms <= 0) return error_at(from.loc, "the window size must be positive");
  if (kind != "SESSION" && ms.size() == (kind == "TUMBLE" ? 2u : 3u)) ev.offset_ms = ms.back();
  if (ev.offset_ms >= ev.size_ms) return error_at(from.loc, "the window offset must be smaller than the window size");
  plan.source = src->first;
  plan.mode = PumpMode::kEventWindow;
  derived = src->second;
  derived.columns.push_back({"window_start", SqlType::of(TypeId::kTimestamp)});
  derived.columns.push_back({"window_end", SqlType::of(TypeId::kTimestamp)});
  derived.columns.push_back({"window_time", SqlType::of(TypeId::kTimestamp)});
  return {};
}

// Flink OVER aggregation (flink-sql.md 4): every window ordered by the source table's event-time
// column, all of them alike, no KDA analytic functions; rows then wait for the watermark.
Status plan_event_over(PumpPlan& plan, const StreamDef& scope, const std::map<std::string, EventTime>& event_time,
                       const Location& loc) {
  auto et = event_time.find(plan.source);
  if (et == event_time.end()) {
    return error_at(loc, "table " + quote(plan.source) +
                             " has no WATERMARK: OVER aggregation orders rows by an event-time column (WATERMARK FOR "
                             "ts AS ts - INTERVAL ...)");
  }
  const auto& cols = scope.columns;
  auto tc = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == et->second.column; });
  if (tc == cols.end()) return error_at(loc, "column " + quote(et->second.column) + " not found");
  const int time_column = static_cast<int>(tc - cols.begin());
  const auto& first = plan.windows.front();
  for (const auto& w : plan.windows) {
    if (w.order_column != time_column) {
      return error_at(loc, "OVER windows are ordered by the table's event-time column " + quote(et->second.column) +
                               " (the one with the WATERMARK)");
    }
    if (&w == &first) continue;
    bool same = w.rows == first.rows && w.rows_preceding == first.rows_preceding && w.range_ms == first.range_ms &&
                w.partition_by.size() == first.partition_by.size();
    for (size_t k = 0; same && k < w.partition_by.size(); ++k) {
      same = w.partition_by[k]->column_index() >= 0 &&
             w.partition_by[k]->column_index() == first.partition_by[k]->column_index();
    }
    if (!same) return error_at(loc, "all OVER windows of a query must be the same (as Flink requires)");
  }
  for (const auto& a : plan.aggregates) {
    if (runtime::is_analytic(a.kind))
      return error_at(loc, "LAG, NTH_VALUE and EXP_AVG are KDA functions: not in Flink OVER aggregation");
  }
  auto& ev = plan.event;
  ev.time_column = static_cast<size_t>(time_column);
  ev.watermark_delay_ms = et->second.delay_ms;
  ev.idle_timeout_ms = et->second.idle_timeout_ms;
  ev.drop_late = et->second.drop_late;
  ev.source_width = cols.size();
  plan.event_over = true;
  return {};
}

// The name a select item gives its column: its alias, or the column it names.
std::string item_name(const SelectItem& item) {
  if (!item.alias.name.empty()) return item.alias.name;
  return item.expr && item.expr->kind == ExprKind::kColumn ? item.expr->text : std::string();
}

// Flink's window Top-N (flink-sql.md 3), the one shape it has:
//   SELECT <* | columns> FROM (
//     SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY c [DESC]) AS rn
//     FROM (<a window aggregation>)) WHERE rn <= N
// planned as the window aggregation whose windows emit their first N groups by c, numbered.
Result<std::unique_ptr<PumpPlan>> plan_top_n(const Select& outer, const CreatePump& pump, const StreamDef& target,
                                             const std::vector<size_t>& target_columns,
                                             std::map<std::string, StreamDef>& streams,
                                             const std::map<std::string, EventTime>& event_time) {
  const std::string shape =
      "FROM (subquery) is supported for window Top-N: SELECT ... FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "
      "window_start, "
      "window_end ORDER BY c [DESC]) AS rn FROM (<window aggregation>)) WHERE rn <= N";
  const Select& mid = *outer.from.subquery;
  if (!mid.from.subquery || mid.where || !mid.group_by.empty() || mid.items.size() != 2)
    return error_at(outer.from.loc, shape);
  const SelectItem* star = nullptr;
  const SelectItem* number = nullptr;
  for (const auto& item : mid.items) (item.star ? star : number) = &item;
  if (!star || !number || !number->expr || number->expr->kind != ExprKind::kFunction ||
      number->expr->text != "ROW_NUMBER" || !number->expr->window || number->alias.name.empty()) {
    return error_at(mid.loc, shape);
  }
  const WindowSpec& w = *number->expr->window;
  std::set<std::string> parts;
  for (const auto& p : w.partition_by) {
    if (p->kind == ExprKind::kColumn) parts.insert(p->text);
  }
  if (parts != std::set<std::string>{"window_start", "window_end"} || w.partition_by.size() != 2) {
    return error_at(w.loc, "window Top-N must PARTITION BY window_start, window_end");
  }
  if (w.order_by.size() != 1 || w.order_by[0].first->kind != ExprKind::kColumn) {
    return error_at(w.loc, "window Top-N orders by one column of the aggregation (ORDER BY c [DESC])");
  }
  const std::string rn = number->alias.name;
  int64_t n = 0;
  if (!outer.where || outer.where->kind != ExprKind::kBinary || outer.where->args[0]->kind != ExprKind::kColumn ||
      outer.where->args[0]->text != rn || (outer.where->text != "<=" && outer.where->text != "<")) {
    return error_at(outer.loc, "window Top-N needs WHERE " + rn + " <= N");
  }
  auto limit = integer_literal(*outer.where->args[1], "N");
  if (!limit) return tl::unexpected(limit.error());
  n = *limit - (outer.where->text == "<" ? 1 : 0);
  if (n < 1 || n > 100000) return error_at(outer.where->loc, "N must be 1 to 100000");

  // The aggregation, planned into an intermediate row of its own columns and types.
  const Select& inner = *mid.from.subquery;
  StreamDef inner_def;
  inner_def.name = target.name;
  std::vector<size_t> inner_columns;
  for (const auto& item : inner.items) {
    if (item.star) return error_at(inner.loc, "the aggregation under a window Top-N names its columns");
    inner_def.columns.push_back({item_name(item), SqlType::of(TypeId::kNull)});
    inner_columns.push_back(inner_columns.size());
  }
  PumpPlans nested;
  auto plan = plan_select(inner, pump, inner_def, inner_columns, streams, true, event_time, nested);
  if (plan && !nested.empty()) return error_at(inner.loc, shape);
  if (!plan) return tl::unexpected(plan.error());
  auto& ev = (*plan)->event;
  if ((*plan)->mode != PumpMode::kEventWindow) return error_at(inner.loc, shape);
  const auto& cols = inner_def.columns;
  auto find = [&](const std::string& name) -> int {
    for (size_t i = 0; i < cols.size(); ++i) {
      if (cols[i].name == name) return static_cast<int>(i);
    }
    return -2;
  };
  const int order = find(w.order_by[0].first->text);
  if (order < 0)
    return error_at(w.order_by[0].first->loc,
                    "ORDER BY " + w.order_by[0].first->text + " is not a column of the aggregation");
  ev.top_n = n;
  ev.top_order = static_cast<size_t>(order);
  ev.top_desc = w.order_by[0].second;
  ev.top_inner_types = (*plan)->target_types;
  // The outer select list: * (the aggregation's columns, then the row number) or named columns.
  std::vector<int> sources;
  if (outer.items.size() == 1 && outer.items[0].star) {
    for (size_t i = 0; i < cols.size(); ++i) sources.push_back(static_cast<int>(i));
    sources.push_back(-1);
  } else {
    for (const auto& item : outer.items) {
      if (item.star || !item.expr || item.expr->kind != ExprKind::kColumn)
        return error_at(outer.loc, "select * or columns over a window Top-N");
      const int c = item.expr->text == rn ? -1 : find(item.expr->text);
      if (c == -2) return error_at(item.expr->loc, "column " + quote(item.expr->text) + " not found");
      sources.push_back(c);
    }
  }
  if (sources.size() != target_columns.size()) {
    return error_at(outer.loc, "INSERT INTO " + quote(target.name) + " expects " +
                                   std::to_string(target_columns.size()) + " column(s) but the SELECT produces " +
                                   std::to_string(sources.size()));
  }
  ev.top_columns.assign(target.columns.size(), -3);  // -3: a target column no output writes (NULL)
  ev.top_types.clear();
  for (const auto& c : target.columns) ev.top_types.push_back(c.type);
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& col = target.columns[target_columns[i]];
    const SqlType from =
        sources[i] < 0 ? SqlType::of(TypeId::kBigint) : ev.top_inner_types[static_cast<size_t>(sources[i])];
    if (!castable(from, col.type)) {
      return error_at(outer.loc, "cannot insert " + from.to_string() + " into column " + quote(col.name) + " " +
                                     col.type.to_string());
    }
    ev.top_columns[target_columns[i]] = sources[i];
  }
  return plan;
}

}  // namespace

// KDA runs a nested query as streams in series: FROM (subquery), or a CURSOR's query that is more
// than SELECT STREAM * FROM s [WHERE ...], becomes a pump of its own writing a hidden in-application
// stream "<pump>$<n>" (the name its error rows carry), which the outer query reads. Its columns are
// named by the select list (an alias, a column's name, else EXPR$<i> as Calcite names them) and
// typed by it; its ROWTIME is the ROWTIME that query emits.
Result<std::string> plan_hidden(const Select& inner, const CreatePump& pump, std::map<std::string, StreamDef>& streams,
                                const std::map<std::string, EventTime>& event_time, PumpPlans& hidden,
                                const std::vector<std::string>& column_aliases) {
  if (hidden.size() >= 32) return error_at(inner.loc, "a pump may nest at most 32 queries");
  StreamDef def;
  def.name = pump.name.name + "$" + std::to_string(hidden.size() + 1);
  if (streams.count(def.name)) return error_at(inner.loc, "stream " + quote(def.name) + " already exists");
  for (size_t i = 0; i < inner.items.size(); ++i) {
    const auto& item = inner.items[i];
    const std::string alias = i < column_aliases.size() ? column_aliases[i] : item.alias.name;
    if (item.expr) {
      if (auto parsed = log_parse_columns(*item.expr)) {  // a row: its columns, named "alias.COLUMN"
        if (!*parsed) return error_at(item.expr->loc, parsed->error().message);
        for (const auto& c : (*parsed)->names)
          def.columns.push_back({alias.empty() ? c : alias + "." + c, SqlType::of(TypeId::kNull)});
        continue;
      }
    }
    if (!item.star) {
      const std::string name = alias.empty() ? item_name(item) : alias;
      def.columns.push_back({name.empty() ? "EXPR$" + std::to_string(i) : name, SqlType::of(TypeId::kNull)});
      continue;
    }
    auto src = streams.find(inner.from.stream.name);
    if (inner.from.stream.name.empty() || src == streams.end())
      return error_at(inner.loc, "SELECT * in a nested query reads a stream: name the columns");
    for (const auto& c : src->second.columns) {
      if (c.name != "APPROXIMATE_ARRIVAL_TIME") def.columns.push_back({c.name, SqlType::of(TypeId::kNull)});
    }
  }
  std::vector<size_t> columns(def.columns.size());
  for (size_t i = 0; i < columns.size(); ++i) columns[i] = i;
  CreatePump as_pump;
  as_pump.name = {def.name, true, inner.loc};
  as_pump.target = as_pump.name;
  auto plan = plan_select(inner, as_pump, def, columns, streams, false, event_time, hidden);
  if (!plan) return tl::unexpected(plan.error());
  for (size_t i = 0; i < def.columns.size(); ++i) def.columns[i].type = (*plan)->target_types[i];
  const std::string name = def.name;
  streams[name] = std::move(def);
  hidden.push_back(std::move(*plan));
  return name;
}

Result<std::unique_ptr<PumpPlan>> plan_select(const Select& select, const CreatePump& pump, const StreamDef& target,
                                              const std::vector<size_t>& target_columns,
                                              std::map<std::string, StreamDef>& streams, bool flink,
                                              const std::map<std::string, EventTime>& event_time, PumpPlans& hidden) {
  if (flink && select.from.subquery) return plan_top_n(select, pump, target, target_columns, streams, event_time);
  auto plan = std::make_unique<PumpPlan>();
  plan->name = pump.name.name;
  plan->target = target.name;
  plan->target_width = target.columns.size();
  if (!select.stream && !flink) return error_at(select.loc, "a pump's query must be SELECT STREAM");

  // The stream (or the table function's derived stream) the select list sees.
  StreamDef derived;
  const StreamDef* scope = nullptr;
  std::string alias = select.from.alias;
  std::vector<JoinSide> sides;  // a join's two sides in the joined rows
  if (!select.from.window_tvf.empty()) {
    if (auto st = plan_window_tvf(select.from, *plan, streams, event_time, derived); !st)
      return tl::unexpected(st.error());
    scope = &derived;
  } else if (!select.from.table_function.empty()) {
    const std::string& fname = select.from.table_function;
    const bool top_k = fname == "TOP_K_ITEMS_TUMBLING";
    const bool group_rank = fname == "GROUP_RANK";
    const bool anomaly = group_rank || fname == "RANDOM_CUT_FOREST" || fname == "RANDOM_CUT_FOREST_WITH_EXPLANATION" ||
                         fname == "HOTSPOTS";
    if (!top_k && !anomaly && fname != "COUNT_DISTINCT_ITEMS_TUMBLING") {
      return error_at(select.from.loc, "unknown table function " + fname +
                                           " (supported: TOP_K_ITEMS_TUMBLING, COUNT_DISTINCT_ITEMS_TUMBLING, "
                                           "RANDOM_CUT_FOREST, RANDOM_CUT_FOREST_WITH_EXPLANATION, HOTSPOTS, "
                                           "GROUP_RANK)");
    }
    const Select& cursor = *select.from.cursor;
    // SELECT STREAM * FROM s [WHERE ...] is read in place; any other query runs as a hidden pump.
    const bool direct = cursor.items.size() == 1 && cursor.items[0].star && !cursor.from.stream.name.empty() &&
                        cursor.group_by.empty() && !cursor.stagger && !cursor.union_all && cursor.order_by.empty() &&
                        cursor.windows.empty();
    std::string source = cursor.from.stream.name;
    if (!direct) {
      auto name = plan_hidden(cursor, pump, streams, event_time, hidden);
      if (!name) return tl::unexpected(name.error());
      source = *name;
    }
    auto src = streams.find(source);
    if (src == streams.end())
      return error_at(cursor.from.stream.loc, "stream " + quote(cursor.from.stream.name) + " does not exist");
    if (direct && cursor.where) {
      QueryBinder cb(cursor, *plan, src->second, cursor.from.alias);
      auto w = cb.bind(*cursor.where, Place::kRow);
      if (!w) return tl::unexpected(w.error());
      plan->where = std::move(*w);
    }
    plan->source = src->second.name;
    if (anomaly) {
      auto st = group_rank ? plan_group_rank(select.from, src->second, *plan, derived)
                           : plan_anomaly(fname, select.from, pump, src->second, *plan, derived);
      if (!st) return tl::unexpected(st.error());
    }
    const size_t want = top_k ? 3 : 2;
    if (anomaly) {
    } else if (select.from.function_args.size() != want) {
      return error_at(select.from.loc,
                      fname + " takes (CURSOR(...), 'column', " + (top_k ? "K, " : "") + "windowSize)");
    }
    if (anomaly) {
      scope = &derived;
    } else {
      const Expr& col = *select.from.function_args[0];
      if (col.kind != ExprKind::kLiteral || !col.type.is_string())
        return error_at(col.loc, "the column name must be a string literal");
      const auto& cols = src->second.columns;
      auto it = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == col.text; });
      if (it == cols.end()) {
        std::string upper = col.text;
        for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        it = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == upper; });
      }
      if (it == cols.end())
        return error_at(col.loc, "column " + quote(col.text) + " not found in " + quote(src->second.name));
      plan->source = src->second.name;
      plan->mode = top_k ? PumpMode::kTopK : PumpMode::kCountDistinct;
      plan->tf_column = static_cast<size_t>(it - cols.begin());
      plan->tf_column_type = it->type;
      if (top_k) {
        auto k = integer_literal(*select.from.function_args[1], "K");
        if (!k) return tl::unexpected(k.error());
        if (*k < 1 || *k > 100000) return error_at(select.from.function_args[1]->loc, "K must be between 1 and 100000");
        plan->tf_k = *k;
      }
      auto size = integer_literal(*select.from.function_args.back(), "windowSize");
      if (!size) return tl::unexpected(size.error());
      if (*size < 1 || *size > 3600)
        return error_at(select.from.function_args.back()->loc, "windowSize must be 1 to 3600 seconds");
      plan->tf_window_ms = *size * 1000;
      derived.name = fname;
      if (top_k) derived.columns.push_back({it->name, it->type});
      derived.columns.push_back(
          {top_k ? "MOST_FREQUENT_VALUES" : "NUMBER_OF_DISTINCT_ITEMS", SqlType::of(TypeId::kBigint)});
      scope = &derived;
    }
  } else if (select.join) {
    auto joined = plan_join(select, pump, streams, event_time, hidden, flink);
    if (!joined) return tl::unexpected(joined.error());
    plan->source = joined->stream;
    scope = &streams.at(joined->stream);
    sides = std::move(joined->sides);
    alias.clear();
  } else if (select.from.subquery) {
    auto name = plan_hidden(*select.from.subquery, pump, streams, event_time, hidden, select.from.column_aliases);
    if (!name) return tl::unexpected(name.error());
    plan->source = *name;
    scope = &streams.at(*name);
  } else {
    auto src = streams.find(select.from.stream.name);
    if (src == streams.end()) {
      return error_at(select.from.stream.loc,
                      "stream " + quote(select.from.stream.name) +
                          " does not exist (create it with CREATE STREAM, or check the input's name prefix)");
    }
    if (src->first == runtime::kErrorStream)
      return error_at(select.from.stream.loc, "error_stream cannot be read by the application");
    if (src->second.is_table) {
      return error_at(select.from.stream.loc, quote(src->first) +
                                                  " is a reference table: join a stream with it (FROM stream JOIN " +
                                                  quote(src->first) + " ON ...)");
    }
    plan->source = src->first;
    scope = &src->second;
  }

  QueryBinder qb(select, *plan, *scope, alias);
  qb.flink = flink;
  if (!sides.empty()) qb.set_sides(sides);
  const bool table_function = !select.from.table_function.empty();
  if (!table_function && select.where) {
    auto w = qb.bind(*select.where, Place::kRow);
    if (!w) return tl::unexpected(w.error());
    if ((*w)->type.id != TypeId::kBoolean && (*w)->type.id != TypeId::kNull)
      return error_at(select.where->loc, "WHERE needs a BOOLEAN condition");
    plan->where = std::move(*w);
  }
  if (!select.group_by.empty() && select.stagger)
    return error_at(select.loc, "use either GROUP BY or WINDOWED BY, not both");
  bool sliding = false;
  for (const auto& item : select.items) {
    if (item.expr && has_windowed_aggregate(*item.expr)) sliding = true;
  }
  if (plan->mode == PumpMode::kEventWindow) {
    // GROUP BY window_start, window_end[, keys]: the window is the group's time part.
    bool start = false, end = false;
    for (const auto& k : select.group_by) {
      start |= k->kind == ExprKind::kColumn && k->text == "window_start";
      end |= k->kind == ExprKind::kColumn && k->text == "window_end";
    }
    if (!start || !end) {
      return error_at(select.loc, "a window function's query must GROUP BY window_start, window_end (and any keys)");
    }
    if (sliding || select.stagger) return error_at(select.loc, "OVER and STAGGER cannot follow a window function");
    // SESSION: per PARTITION BY value (the legacy GROUP BY SESSION form: per group key).
    auto& ev = plan->event;
    if (ev.kind == runtime::EventWindowSpec::Kind::kSession) {
      if (select.from.session_by_group_keys) {
        for (const auto& k : select.group_by) {
          if (k->kind == ExprKind::kColumn && (k->text == "window_start" || k->text == "window_end")) continue;
          auto b = qb.bind(*k, Place::kRow);
          if (!b) return tl::unexpected(b.error());
          ev.session_partition.push_back(std::move(*b));
        }
      }
      for (const auto& k : select.from.tvf_partition_by) {
        auto b = qb.bind(*k, Place::kRow);
        if (!b) return tl::unexpected(b.error());
        ev.session_partition.push_back(std::move(*b));
      }
    } else if (!select.from.tvf_partition_by.empty()) {
      return error_at(select.from.loc, "PARTITION BY is for SESSION windows");
    }
    if (select.where && mentions_window_columns(*select.where)) {
      return error_at(
          select.where->loc,
          "WHERE is applied before the window function: it cannot read window_start, window_end or window_time");
    }
    qb.aggregated = true;
    if (auto st = qb.bind_keys(select.group_by); !st) return tl::unexpected(st.error());
    ev.panes = ev.kind != runtime::EventWindowSpec::Kind::kSession;
    for (const auto& k : select.group_by) {
      const bool bare = k->kind == ExprKind::kColumn;
      const int slot = !bare                       ? 0
                       : k->text == "window_start" ? 1
                       : k->text == "window_end"   ? 2
                       : k->text == "window_time"  ? 3
                                                   : 0;
      ev.window_slot.push_back(slot);
      if (slot == 0 && mentions_window_columns(*k)) ev.panes = false;
    }
    for (const auto& item : select.items) {
      if (item.expr && aggregate_reads_window(*item.expr)) ev.panes = false;
    }
    if (select.having && aggregate_reads_window(*select.having)) ev.panes = false;
  } else if (!table_function) {
    if (!select.group_by.empty()) {
      plan->mode = PumpMode::kTumbling;
      qb.aggregated = true;
      if (auto st = qb.bind_keys(select.group_by); !st) return tl::unexpected(st.error());
      for (size_t i = 0; i < plan->keys.size(); ++i) {
        if (plan->keys[i]->uses_rowtime()) {
          plan->window_key = static_cast<int>(i);
          plan->window_on_rowtime = true;
          break;
        }
      }
      for (size_t i = 0; i < select.group_by.size() && plan->window_key < 0; ++i) {
        const Expr& k = *select.group_by[i];
        if (k.kind == ExprKind::kFunction && k.text == "MONOTONIC") {
          plan->window_key = static_cast<int>(i);
          plan->window_on_change = true;
        }
      }
      if (plan->window_key < 0) {
        for (size_t i = 0; i < plan->keys.size(); ++i) {
          if (plan->keys[i]->type.is_datetime()) {
            plan->window_key = static_cast<int>(i);
            break;
          }
        }
      }
      if (plan->window_key < 0) {
        return error_at(select.group_by.front()->loc,
                        "a streaming GROUP BY needs a monotonic key: a function of ROWTIME, e.g. STEP(\"" +
                            scope->name + "\".ROWTIME BY INTERVAL '60' SECOND) or FLOOR(\"" + scope->name +
                            "\".ROWTIME TO MINUTE), or an expression declared MONOTONIC(...)");
      }
    } else if (select.stagger) {
      plan->mode = PumpMode::kStagger;
      qb.aggregated = true;
      plan->stagger_range_ms = select.stagger->range_ms;
      if (auto st = qb.bind_keys(select.stagger->partition_by); !st) return tl::unexpected(st.error());
    } else if (sliding) {
      plan->mode = PumpMode::kSliding;
      qb.sliding = true;
    }
  }
  if (!select.order_by.empty()) {
    if (plan->mode != PumpMode::kProject) {
      return error_at(select.order_by.front().first->loc,
                      "streaming ORDER BY is supported on plain SELECT STREAM queries");
    }
    for (const auto& [expr, desc] : select.order_by) {
      auto k = qb.bind(*expr, Place::kRow);
      if (!k) return tl::unexpected(k.error());
      plan->order_keys.push_back(std::move(*k));
      plan->order_desc.push_back(desc);
    }
    if (!plan->order_keys.front()->uses_rowtime()) {
      return error_at(select.order_by.front().first->loc,
                      "a streaming ORDER BY must start with a monotonic time key, e.g. FLOOR(\"" + scope->name +
                          "\".ROWTIME TO MINUTE)");
    }
  }
  // A table function's rows are made by its pump: the query's WHERE filters them as they go out.
  if (table_function && select.where) {
    if (select.having) return error_at(select.having->loc, "HAVING needs GROUP BY or WINDOWED BY");
    auto w = qb.bind(*select.where, Place::kRow);
    if (!w) return tl::unexpected(w.error());
    if ((*w)->type.id != TypeId::kBoolean && (*w)->type.id != TypeId::kNull)
      return error_at(select.where->loc, "WHERE needs a BOOLEAN condition");
    plan->having = std::move(*w);
  }
  if (select.having) {
    if (!qb.aggregated) return error_at(select.having->loc, "HAVING needs GROUP BY or WINDOWED BY");
    auto h = qb.bind(*select.having, Place::kOutput);
    if (!h) return tl::unexpected(h.error());
    plan->having = std::move(*h);
  }
  // Select list, with * expanded to the stream's columns (never ROWTIME).
  std::vector<Bound> outputs;
  std::vector<Location> locs;
  for (const auto& item : select.items) {
    if (item.star) {
      if (qb.aggregated) return error_at(select.loc, "SELECT * cannot be used with GROUP BY or WINDOWED BY");
      for (size_t i = 0; i < scope->columns.size(); ++i) {
        if (scope->columns[i].name == "APPROXIMATE_ARRIVAL_TIME") continue;
        outputs.push_back(runtime::make_column(i, scope->columns[i].type));
        locs.push_back(select.loc);
      }
      continue;
    }
    if (log_parse_columns(*item.expr)) {  // a parsed row: one output per column
      if (qb.aggregated || item.expr->args.empty())
        return error_at(item.expr->loc, item.expr->text + " parses the text of each row: not in an aggregate query");
      auto columns = log_parse_outputs(*item.expr, [&] { return qb.bind(*item.expr->args[0], Place::kRow); });
      if (!columns) return error_at(item.expr->loc, columns.error().message);
      for (auto& c : *columns) {
        outputs.push_back(std::move(c));
        locs.push_back(item.expr->loc);
      }
      continue;
    }
    auto b = qb.bind(*item.expr, qb.aggregated ? Place::kOutput : Place::kRow);
    if (!b) return tl::unexpected(b.error());
    outputs.push_back(std::move(*b));
    locs.push_back(item.expr->loc);
  }
  if (flink && plan->mode == PumpMode::kSliding) {
    if (auto st = plan_event_over(*plan, *scope, event_time, select.loc); !st) return tl::unexpected(st.error());
  }
  if (outputs.size() != target_columns.size()) {
    return error_at(select.loc, "INSERT INTO " + quote(target.name) + " expects " +
                                    std::to_string(target_columns.size()) + " column(s) but the SELECT produces " +
                                    std::to_string(outputs.size()));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& col = target.columns[target_columns[i]];
    if (col.type.id == TypeId::kNull) {  // an intermediate row (window Top-N): the output's own type
      plan->target_types.push_back(outputs[i]->type);
      plan->outputs.push_back(std::move(outputs[i]));
      plan->target_columns.push_back(target_columns[i]);
      continue;
    }
    if (!castable(outputs[i]->type, col.type)) {
      return error_at(locs[i], "cannot insert " + outputs[i]->type.to_string() + " into column " + quote(col.name) +
                                   " " + col.type.to_string() + " of " + quote(target.name));
    }
    plan->outputs.push_back(runtime::make_cast(std::move(outputs[i]), col.type));
    plan->target_columns.push_back(target_columns[i]);
    plan->target_types.push_back(col.type);
  }
  return plan;
}

}  // namespace eddy::sql
