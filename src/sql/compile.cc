#include "sql/compile.h"

#include <algorithm>
#include <set>

#include "runtime/keyed_pump.h"
#include "sql/binder.h"
#include "sql/flink_tables.h"
#include "sql/parser.h"

namespace eddy::sql {
namespace {

// Flink: an input per source table, its JSON fields named after the columns (filesystem tables
// are reference tables, not inputs).
std::vector<runtime::ApplicationInput> flink_inputs(const Script& script) {
  std::set<std::string> targets;
  for (const auto& st : script.statements) {
    if (st.insert) targets.insert(st.insert->target.name);
  }
  std::vector<runtime::ApplicationInput> inputs;
  for (const auto& st : script.statements) {
    if (!st.create_table || targets.count(st.create_table->name.name) || is_file_table(*st.create_table)) continue;
    runtime::ApplicationInput in;
    in.table = st.create_table->name.name;
    in.name_prefix = in.table;
    in.schema.row_path = "$";
    for (const auto& c : st.create_table->columns) in.schema.columns.push_back({c.name.name, {c.name.name}, c.type});
    index_schema(in.schema);
    inputs.push_back(std::move(in));
  }
  return inputs;
}

}  // namespace

Result<std::unique_ptr<runtime::Application>> compile_application(std::string_view code,
                                                                  std::vector<runtime::ApplicationInput> inputs,
                                                                  const Clock& clock, size_t parallelism,
                                                                  bool key_groups,
                                                                  const std::vector<runtime::StreamDef>& tables) {
  auto script = parse_script(code);
  if (!script) return tl::unexpected(script.error());
  if (script->flink && inputs.empty()) inputs = flink_inputs(*script);
  runtime::ApplicationPlan spec;
  spec.flink = script->flink;
  for (const auto& st : script->statements) {
    if (!st.create_table) continue;
    runtime::FlinkTable t;
    t.name = st.create_table->name.name;
    t.options.insert(st.create_table->options.begin(), st.create_table->options.end());
    for (const auto& other : script->statements)
      t.sink = t.sink || (other.insert && other.insert->target.name == t.name);
    spec.flink_tables.push_back(std::move(t));
  }
  auto defs = runtime::input_stream_defs(inputs);
  if (!defs) return tl::unexpected(defs.error());
  std::vector<runtime::StreamDef> all_tables = tables;
  if (script->flink) {
    auto files = flink_file_tables(*script);
    if (!files) return tl::unexpected(files.error());
    for (const auto& f : *files) {
      runtime::StreamDef def;
      def.name = f.name;
      for (const auto& c : f.schema.columns) def.columns.push_back({c.name, c.type});
      all_tables.push_back(std::move(def));
    }
  }
  for (auto table : all_tables) {
    if (defs->count(table.name))
      return make_error(Errc::kInvalidArgument, "reference table \"" + table.name + "\" has the name of a stream");
    table.is_table = true;
    (*defs)[table.name] = std::move(table);
  }
  const auto declared = *defs;  // bind_script adds the script's streams
  auto plans = bind_script(*script, *defs);
  if (!plans) return tl::unexpected(plans.error());
  // Keyed pumps with parallelism > 1 (or key groups asked for): a plan per partition, bound
  // again from the same code. Only a stream's one writer: the partitions emit at the end of a
  // batch, which would reorder its rows among another writer's.
  std::map<std::string, int> writers;
  for (const auto& p : *plans) ++writers[p->target];
  const bool keyed = parallelism > 1 || key_groups;
  for (size_t copy = 0; keyed && copy < std::max<size_t>(parallelism, 1); ++copy) {
    auto streams = declared;
    auto again = bind_script(*script, streams);
    if (!again || again->size() != plans->size())
      return make_error(Errc::kInternal, "binding the script twice differed");
    for (size_t i = 0; i < plans->size(); ++i) {
      const runtime::PumpPlan& plan = *(*plans)[i];
      if (writers[plan.target] == 1 && !runtime::partition_columns(plan).empty())
        spec.partitions[i].push_back(std::move((*again)[i]));
    }
  }
  spec.parallelism = std::max<size_t>(parallelism, 1);
  spec.inputs = std::move(inputs);
  spec.streams = std::move(*defs);
  spec.pumps = std::move(*plans);
  return runtime::Application::assemble(std::move(spec), clock);
}

}  // namespace eddy::sql
