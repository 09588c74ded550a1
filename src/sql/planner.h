// Internal to sql/: turns the query of one pump, INSERT INTO or UNION ALL branch into its run-time
// plan (runtime::PumpPlan): which pump runs it, its window, keys, aggregates and outputs. The
// binder (binder.h) calls it once names and targets are resolved.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/application.h"
#include "sql/ast.h"

namespace eddy::sql {

// A Flink table's event-time attribute (WATERMARK FOR column AS column - delay).
struct EventTime {
  std::string column;
  int64_t delay_ms = 0;
  int64_t idle_timeout_ms = 0;  // WITH ('scan.watermark.idle-timeout' = '10 s')
  bool drop_late = false;       // WITH ('eddy.late-rows' = 'drop'); default 'error-stream'
};

using PumpPlans = std::vector<std::unique_ptr<runtime::PumpPlan>>;

// `select` writes `target_columns` (indexes into target.columns, in select-list order) of
// `target`; `streams` are every stream or table of the application; `event_time` the WATERMARKs
// of Flink tables, by table name. Errors are kInvalidArgument, "L:C: ...".
// A nested query (FROM (subquery), a CURSOR's query) runs as a hidden pump of its own: its plan
// goes to `hidden`, its stream into `streams`, before the plan returned reads it.
Result<std::unique_ptr<runtime::PumpPlan>> plan_select(const Select& select, const CreatePump& pump,
                                                       const runtime::StreamDef& target,
                                                       const std::vector<size_t>& target_columns,
                                                       std::map<std::string, runtime::StreamDef>& streams, bool flink,
                                                       const std::map<std::string, EventTime>& event_time,
                                                       PumpPlans& hidden);

}  // namespace eddy::sql
