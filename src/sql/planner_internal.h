// Internal to the planner's files (planner.cc, planner_join.cc).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sql/planner.h"
#include "sql/query_binder.h"

namespace eddy::sql {

// A nested query run as a hidden pump (planner.cc): the name of the stream it writes.
Result<std::string> plan_hidden(const Select& inner, const CreatePump& pump,
                                std::map<std::string, runtime::StreamDef>& streams,
                                const std::map<std::string, EventTime>& event_time, PumpPlans& hidden);

// The hidden stream of a join's rows, and the two sides' columns in it.
struct JoinedScope {
  std::string stream;
  std::vector<JoinSide> sides;
};
Result<JoinedScope> plan_join(const Select& select, const CreatePump& pump,
                              std::map<std::string, runtime::StreamDef>& streams,
                              const std::map<std::string, EventTime>& event_time, PumpPlans& hidden);

}  // namespace eddy::sql
