// Internal to the planner's files (planner.cc, planner_join.cc).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sql/planner.h"
#include "sql/query_binder.h"

namespace eddy::sql {

// A whole-number literal argument (`what` names it in the error).
Result<int64_t> integer_literal(const Expr& e, const char* what);

// A nested query run as a hidden pump (planner.cc): the name of the stream it writes.
// `column_aliases`: FROM (...) AS t(a, b) names its columns.
Result<std::string> plan_hidden(const Select& inner, const CreatePump& pump,
                                std::map<std::string, runtime::StreamDef>& streams,
                                const std::map<std::string, EventTime>& event_time, PumpPlans& hidden,
                                const std::vector<std::string>& column_aliases = {});

// The hidden stream of a join's rows, and the two sides' columns in it. `flink`: the Flink
// dialect, whose joins with a table are lookup joins (FOR SYSTEM_TIME AS OF or plain).
struct JoinedScope {
  std::string stream;
  std::vector<JoinSide> sides;
};
Result<JoinedScope> plan_join(const Select& select, const CreatePump& pump,
                              std::map<std::string, runtime::StreamDef>& streams,
                              const std::map<std::string, EventTime>& event_time, PumpPlans& hidden, bool flink);

// RANDOM_CUT_FOREST, RANDOM_CUT_FOREST_WITH_EXPLANATION and HOTSPOTS over `cursor` (the stream
// the CURSOR reads): the plan's kAnomaly spec and the columns the query sees (planner_ml.cc).
Status plan_anomaly(const std::string& function, const FromItem& from, const CreatePump& pump,
                    const runtime::StreamDef& cursor, runtime::PumpPlan& plan, runtime::StreamDef& derived);

// GROUP_RANK(CURSOR(...), rankByColumnName, rankOutColumnName, sortOrder, outputOrder, maxIdle,
// outputMax) over `cursor` (planner_ml.cc).
Status plan_group_rank(const FromItem& from, const runtime::StreamDef& cursor, runtime::PumpPlan& plan,
                       runtime::StreamDef& derived);

}  // namespace eddy::sql
