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

}  // namespace

Result<JoinedScope> plan_join(const Select& select, const CreatePump& pump, std::map<std::string, StreamDef>& streams,
                              const std::map<std::string, EventTime>& event_time, PumpPlans& hidden) {
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
  if (!r->second.is_table)
    return error_at(j.loc, "a join of two streams is not supported yet; a stream joins a reference table");
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

  // ON: each `stream expression = table expression` conjunct is an index key; the rest is checked
  // on the joined row.
  QueryBinder stream_side(select, *plan, sdef, select.from.alias);
  QueryBinder table_side(select, *plan, tdef, j.right.alias);
  QueryBinder both(select, *plan, joined, "");
  both.set_sides(out.sides);
  std::vector<const Expr*> parts;
  if (j.on) conjuncts(*j.on, parts);
  std::vector<Bound> rest;
  for (const Expr* c : parts) {
    if (c->kind == ExprKind::kBinary && c->text == "=") {
      for (int swap = 0; swap < 2; ++swap) {
        const Expr& a = *c->args[swap];
        const Expr& b = *c->args[1 - swap];
        auto ka = stream_side.bind(a, Place::kRow);
        if (!ka) continue;
        auto kb = table_side.bind(b, Place::kRow);
        if (!kb || (*kb)->uses_rowtime()) continue;
        auto t = common_type((*ka)->type, (*kb)->type);
        if (!t || (*ka)->type.is_string() != (*kb)->type.is_string()) continue;
        if (t->id == TypeId::kChar) t = SqlType::varchar();
        spec.stream_keys.push_back(runtime::make_cast(std::move(*ka), *t));
        spec.table_keys.push_back(runtime::make_cast(std::move(*kb), *t));
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
  if (rest.size() == 1) spec.condition = std::move(rest.front());
  if (rest.size() > 1) spec.condition = runtime::make_logic("AND", std::move(rest));
  if (!plan->aggregates.empty()) return error_at(j.loc, "ON cannot hold an aggregate");

  out.stream = joined.name;
  streams[joined.name] = std::move(joined);
  hidden.push_back(std::move(plan));
  return out;
}

}  // namespace eddy::sql
