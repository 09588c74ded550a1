// FROM stream [AS a] [INNER | LEFT] JOIN table [AS b] ON condition, the stream-to-table join of
// sqlref/sql-reference-join-clause: planned as a hidden kTableJoin pump writing the joined rows
// (the stream's columns, then the table's) into a hidden stream that the query then reads with
// both sides' names.
#include "sql/planner_internal.h"

#include <algorithm>

#include "runtime/reference_table.h"
#include "sql/query_binder.h"

namespace eddy::sql {

using runtime::PumpMode;
using runtime::PumpPlan;
using runtime::StreamDef;
using runtime::Value;

namespace {

void conjuncts(const Expr& e, std::vector<const Expr*>& out) {
  if (e.kind == ExprKind::kBinary && e.text == "AND") {
    conjuncts(*e.args[0], out);
    conjuncts(*e.args[1], out);
  } else {
    out.push_back(&e);
  }
}

std::string side_name(const FromItem& f, const std::string& resolved) {
  return f.stream.name.empty() ? resolved : f.stream.name;
}

// ON: each `left expression = right expression` conjunct is an equal key (evaluated on each
// side's own rows); the rest is checked on the joined row. `right_has_rowtime`: the right side is
// a stream, whose ROWTIME may be a key.
Status bind_on(const Select& select, PumpPlan& plan, const StreamDef& left, const std::string& left_alias,
               const StreamDef& right, const std::string& right_alias, const StreamDef& joined,
               const std::vector<JoinSide>& sides, std::vector<Bound>& left_keys, std::vector<Bound>& right_keys,
               Bound& condition, bool right_has_rowtime) {
  const JoinClause& j = *select.join;
  QueryBinder left_side(select, plan, left, left_alias);
  QueryBinder right_side(select, plan, right, right_alias);
  QueryBinder both(select, plan, joined, "");
  both.set_sides(sides);
  std::vector<const Expr*> parts;
  if (j.on) conjuncts(*j.on, parts);
  std::vector<Bound> rest;
  for (const Expr* c : parts) {
    if (c->kind == ExprKind::kBinary && c->text == "=") {
      for (int swap = 0; swap < 2; ++swap) {
        const Expr& a = *c->args[swap];
        const Expr& b = *c->args[1 - swap];
        auto ka = left_side.bind(a, Place::kRow);
        if (!ka) continue;
        auto kb = right_side.bind(b, Place::kRow);
        if (!kb || (!right_has_rowtime && (*kb)->uses_rowtime())) continue;
        auto t = common_type((*ka)->type, (*kb)->type);
        if (!t || (*ka)->type.is_string() != (*kb)->type.is_string()) continue;
        if (t->id == TypeId::kChar) t = SqlType::varchar();
        left_keys.push_back(runtime::make_cast(std::move(*ka), *t));
        right_keys.push_back(runtime::make_cast(std::move(*kb), *t));
        c = nullptr;
        break;
      }
      if (!c) continue;
    }
    auto b = both.bind(*c, Place::kRow);
    if (!b) return tl::unexpected(b.error());
    if ((*b)->type.id != TypeId::kBoolean && (*b)->type.id != TypeId::kNull)
      return error_at(c->loc, "ON needs a BOOLEAN condition");
    rest.push_back(std::move(*b));
  }
  if (rest.size() == 1) condition = std::move(rest.front());
  if (rest.size() > 1) condition = runtime::make_logic("AND", std::move(rest));
  if (!plan.aggregates.empty()) return error_at(j.loc, "ON cannot hold an aggregate");
  return {};
}

// A side's window: OVER (RANGE ... | ROWS ...) or OVER w of the WINDOW clause.
Result<runtime::JoinWindow> join_window(const Select& select, const FromItem& f) {
  runtime::JoinWindow w;
  const WindowSpec* spec = f.over.get();
  if (!f.over_name.empty()) {
    for (const auto& [name, def] : select.windows) {
      if (name == f.over_name) spec = &def;
    }
    if (!spec) return error_at(f.loc, "window " + quote(f.over_name) + " is not defined in a WINDOW clause");
  }
  if (!spec) return w;
  if (!spec->partition_by.empty())
    return error_at(spec->loc, "a join's window cannot be partitioned (sqlref: allowed and disallowed windows)");
  w.kept = true;
  w.rows = spec->rows;
  w.rows_preceding = spec->rows_preceding;
  w.range_ms = spec->range_ms;
  return w;
}

// Two streams: each side's rows go, tagged with their side, into one hidden stream that a
// kStreamJoin pump reads; its joined rows go into another, which the query reads.
Result<JoinedScope> plan_stream_join(const Select& select, const CreatePump& pump,
                                     std::map<std::string, StreamDef>& streams, const StreamDef& left,
                                     const StreamDef& right, PumpPlans& hidden) {
  const JoinClause& j = *select.join;
  if (j.kind == "CROSS") return error_at(j.loc, "a CROSS JOIN of two streams has no window: write JOIN ... ON");
  auto lw = join_window(select, select.from);
  if (!lw) return tl::unexpected(lw.error());
  auto rw = join_window(select, j.right);
  if (!rw) return tl::unexpected(rw.error());
  if (!lw->kept && !rw->kept) {
    return error_at(j.loc, "a join of two streams needs a window on at least one side, e.g. JOIN " + quote(right.name) +
                               " OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS b");
  }
  const size_t nl = left.columns.size(), nr = right.columns.size();
  auto name = [&](size_t k) { return pump.name.name + "$" + std::to_string(hidden.size() + k); };
  StreamDef tagged;
  tagged.name = name(1);
  tagged.columns.push_back({"$SIDE", SqlType::of(TypeId::kInteger)});
  tagged.columns.insert(tagged.columns.end(), left.columns.begin(), left.columns.end());
  tagged.columns.insert(tagged.columns.end(), right.columns.begin(), right.columns.end());
  StreamDef joined;
  joined.name = name(2);
  joined.columns.assign(left.columns.begin(), left.columns.end());
  joined.columns.insert(joined.columns.end(), right.columns.begin(), right.columns.end());
  joined.columns.push_back({"$LEFT_ROWTIME", SqlType::of(TypeId::kTimestamp)});
  joined.columns.push_back({"$RIGHT_ROWTIME", SqlType::of(TypeId::kTimestamp)});
  if (streams.count(tagged.name) || streams.count(joined.name))
    return error_at(j.loc, "stream " + quote(joined.name) + " already exists");

  // The two tagging pumps: side, then the row's columns where its side's are, NULLs elsewhere.
  for (int side = 0; side < 2; ++side) {
    const StreamDef& def = side == 0 ? left : right;
    auto tag = std::make_unique<PumpPlan>();
    tag->name = pump.name.name + (side == 0 ? "$LEFT" : "$RIGHT");
    tag->source = def.name;
    tag->target = tagged.name;
    tag->target_width = tagged.columns.size();
    tag->mode = PumpMode::kProject;
    for (size_t c = 0; c < tagged.columns.size(); ++c) {
      const SqlType type = tagged.columns[c].type;
      Bound out;
      if (c == 0)
        out = runtime::make_constant(Value::integer(side), type);
      else if (side == 0 && c <= nl)
        out = runtime::make_column(c - 1, type);
      else if (side == 1 && c > nl)
        out = runtime::make_column(c - 1 - nl, type);
      else
        out = runtime::make_constant(Value::null(), type);
      tag->outputs.push_back(std::move(out));
      tag->target_columns.push_back(c);
      tag->target_types.push_back(type);
    }
    hidden.push_back(std::move(tag));
  }

  auto plan = std::make_unique<PumpPlan>();
  plan->name = joined.name;
  plan->source = tagged.name;
  plan->target = joined.name;
  plan->target_width = joined.columns.size();
  plan->mode = PumpMode::kStreamJoin;
  auto& spec = plan->stream_join;
  spec.window[0] = *lw;
  spec.window[1] = *rw;
  spec.outer[0] = j.kind == "LEFT" || j.kind == "FULL";
  spec.outer[1] = j.kind == "RIGHT" || j.kind == "FULL";
  spec.width[0] = nl;
  spec.width[1] = nr;
  JoinedScope out;
  out.sides = {{side_name(select.from, left.name), select.from.alias, 0, nl, nl + nr},
               {right.name, j.right.alias, nl, nl + nr, nl + nr + 1}};
  if (auto st = bind_on(select, *plan, left, select.from.alias, right, j.right.alias, joined, out.sides, spec.keys[0],
                        spec.keys[1], spec.condition, true);
      !st)
    return tl::unexpected(st.error());
  out.stream = joined.name;
  streams[tagged.name] = std::move(tagged);
  streams[joined.name] = std::move(joined);
  hidden.push_back(std::move(plan));
  return out;
}

}  // namespace

Result<JoinedScope> plan_join(const Select& select, const CreatePump& pump, std::map<std::string, StreamDef>& streams,
                              const std::map<std::string, EventTime>& event_time, PumpPlans& hidden, bool flink) {
  const JoinClause& j = *select.join;
  if (!select.from.table_function.empty() || !select.from.window_tvf.empty() || !j.right.table_function.empty() ||
      j.right.subquery) {
    return error_at(j.loc, "a join reads a stream (or a nested query) and a reference table by name");
  }
  std::string left = select.from.stream.name;
  if (select.from.subquery) {
    auto name = plan_hidden(*select.from.subquery, pump, streams, event_time, hidden);
    if (!name) return tl::unexpected(name.error());
    left = *name;
  }
  auto l = streams.find(left);
  if (l == streams.end()) return error_at(select.from.loc, "stream " + quote(left) + " does not exist");
  auto r = streams.find(j.right.stream.name);
  if (r == streams.end())
    return error_at(j.right.loc, "stream or reference table " + quote(j.right.stream.name) + " does not exist");
  if (l->second.is_table) {
    return error_at(select.from.loc,
                    quote(left) + " is a reference table: write the stream first, FROM stream JOIN table ON ...");
  }
  if (flink && !r->second.is_table) {
    // Flink's joins of two streams (regular, interval, event-time temporal) are not built: a
    // regular join would keep both streams whole, and eddy reads one source table per application.
    return error_at(j.loc, quote(j.right.stream.name) +
                               " is a stream: a Flink application joins its source with a filesystem table (a lookup "
                               "join); joins of two streams (interval, temporal) are not supported yet");
  }
  if (!r->second.is_table) return plan_stream_join(select, pump, streams, l->second, r->second, hidden);
  if (l->first == runtime::kErrorStream) return error_at(select.from.loc, "error_stream cannot be read");
  if (j.kind == "RIGHT" || j.kind == "FULL") {
    return error_at(j.loc, j.kind +
                               " JOIN of a stream with a reference table would emit table rows with no ROWTIME: "
                               "use INNER or LEFT JOIN");
  }
  if (select.from.over || !select.from.over_name.empty() || j.right.over || !j.right.over_name.empty())
    return error_at(j.loc, "a join with a reference table takes no OVER window: each row meets the whole table");

  const StreamDef& sdef = l->second;
  const StreamDef& tdef = r->second;
  StreamDef joined;
  joined.name = pump.name.name + "$" + std::to_string(hidden.size() + 1);
  if (streams.count(joined.name)) return error_at(j.loc, "stream " + quote(joined.name) + " already exists");
  joined.columns = sdef.columns;
  joined.columns.insert(joined.columns.end(), tdef.columns.begin(), tdef.columns.end());
  JoinedScope out;
  out.sides = {{side_name(select.from, left), select.from.alias, 0, sdef.columns.size()},
               {tdef.name, j.right.alias, sdef.columns.size(), joined.columns.size()}};

  auto plan = std::make_unique<PumpPlan>();
  plan->name = joined.name;
  plan->source = left;
  plan->target = joined.name;
  plan->target_width = joined.columns.size();
  plan->mode = PumpMode::kTableJoin;
  auto& spec = plan->join;
  spec.table = tdef.name;
  spec.slot = std::make_shared<runtime::TableSlot>();
  spec.left_outer = j.kind == "LEFT";
  spec.stream_width = sdef.columns.size();
  spec.table_width = tdef.columns.size();

  if (auto st = bind_on(select, *plan, sdef, select.from.alias, tdef, j.right.alias, joined, out.sides,
                        spec.stream_keys, spec.table_keys, spec.condition, false);
      !st)
    return tl::unexpected(st.error());

  out.stream = joined.name;
  streams[joined.name] = std::move(joined);
  hidden.push_back(std::move(plan));
  return out;
}

}  // namespace eddy::sql
