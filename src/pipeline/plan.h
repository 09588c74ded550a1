// The difference between a pipeline's desired state and what a server holds: an ordered list of
// changes (streams first, then delivery streams, then applications; deletions in reverse), each
// with the reasons a reader needs. Pure: no server calls, so the diff logic is unit-tested.
#pragma once

#include <string>
#include <vector>

#include "pipeline/model.h"

namespace eddy::pipeline {

enum class Action { kCreate, kUpdate, kReplace, kDelete, kStart };

enum class Kind { kStream, kDelivery, kApplication };

struct Change {
  Action action;
  Kind kind;
  std::string name;
  std::vector<std::string> details;    // what differs, one short phrase each
  std::vector<std::string> code_diff;  // "- old line" / "+ new line" of changed application code
  std::string text() const;            // "update stream sales: shards 1 -> 2 (reshard)"
};

// The changed lines between two texts ("- " removed, "+ " added), at most `max_lines` of them.
std::vector<std::string> line_diff(const std::string& before, const std::string& after, size_t max_lines = 20);

struct Plan {
  std::vector<Change> changes;
  std::vector<std::string> unchanged;  // "stream sales", ...
  bool empty() const { return changes.empty(); }
};

// What `apply` would do. Of the resources the file does not declare, only those an earlier apply of
// the same named pipeline created (live.owned_*) are deleted; others are never touched.
Plan plan_apply(const DesiredState& desired, const LiveState& live);
// What `destroy` would do: delete every declared resource that exists, and the pipeline's own.
Plan plan_destroy(const DesiredState& desired, const LiveState& live);

// The differences between one declared application and its live version, as applying needs them.
struct ApplicationDiff {
  bool replace = false;  // input added or removed: KDA cannot do that in place
  std::string replace_reason;
  bool code = false;
  std::vector<std::string> code_diff;
  bool input = false;
  std::vector<std::string> outputs_removed;  // names
  std::vector<std::string> outputs_added;    // names
  std::vector<std::string> outputs_changed;  // same name, same destination kind: updated in place
  bool preprocessor = false;                 // the input's Lambda preprocessor added, changed or removed
  std::vector<std::string> references_added, references_changed, references_removed;  // table names
  bool start = false;                                                                 // not RUNNING
  bool redeploy = false;     // a C++ job whose library, property groups or parallelism changed
  bool parallelism = false;  // a SQL application's ParallelismConfiguration
  std::vector<std::string> details;
};
ApplicationDiff diff_application(const ApplicationSpec& desired, const LiveApplication& live);

std::string kind_name(Kind k);
// The plan as the CLI prints it, ending with a summary line.
std::string render(const Plan& plan, bool destroy);

}  // namespace eddy::pipeline
