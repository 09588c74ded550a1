// The state of a job's stateful steps — keyed reduce/aggregate/process and windows, with the steps
// after them up to the sinks — for the keys of one key group, and the code that runs elements and
// watermarks through them.
//
// A job's keyed state is split into kKeyGroups groups by key hash, as Flink splits it into key
// groups; with --parallelism N, N threads take the groups that have work, one at a time, each
// calling its own copy of the functions. Each key_by after the first stateful step starts a stage
// (below). The groups' outputs are merged back into the order one thread makes:
// every output carries a Tag, its place in that order, and the groups emit in Tag order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

// GCC 12's -Wstringop-overread misreads boost's inline-storage copies (a known false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overread"
#include <boost/container/small_vector.hpp>
#pragma GCC diagnostic pop

#include "job/job.h"
#include "runtime/state_codec.h"

namespace eddy::job::detail {

inline constexpr size_t kKeyGroups = 128;

// Where an element or an output stands in the order of one thread, compared lexicographically:
//   a record's item:      [seq, 0, item]
//   a window that fires:  [seq, 1, step, end, start, <Tag of the first element of its key>...]
//   what an element makes (an output, or an element for the next key_by): its Tag + [n], n
//   counting what it made so far.
// `seq` numbers the records and the moments the watermarks move. Two groups never make the same
// Tag (an element is in one group), and each group makes its Tags in increasing order.
// Inline storage for the usual lengths (3 to 9): a Tag is made for every element on one thread
// and freed on the thread of its key group, and heap blocks moving between threads that way cost
// a job at 2 threads more than the second thread gave.
using Tag = boost::container::small_vector<int64_t, 10>;

inline constexpr int kErrorTarget = -1;
struct Output {
  Tag tag;
  int target = kErrorTarget;  // the sink step, or the error rows
  std::string text;
};

// A moment the window steps' watermarks moved (after a record, a tick of time, the end of input).
struct Event {
  int64_t seq = 0;
  int64_t origin = 0;                                 // the ORIGIN of error rows raised then
  TimestampMs arrival = 0;                            // the latest arrival time (processing-time windows)
  boost::container::small_vector<TimestampMs, 4> wm;  // per window step, in step order: its watermark from then on
};

// An element reaching the first step of a stage (below).
struct Input {
  Tag tag;
  Element e;
  TimestampMs ts = 0;
  TimestampMs arrival = 0;
  std::string key;
  int64_t origin = 0;
};

// An aggregation's state for one key (rolling) or one key's window: enough for every kind.
struct Acc {
  Element first;    // the first element (sum/min/max/count/avg results are it with a field changed)
  Element best;     // min_by/max_by: the element holding the extreme; reduce: the running value
  Element extreme;  // min/max: the extreme field value
  double sum = 0;
  int64_t isum = 0;
  bool integral = true;
  int64_t count = 0;
  std::vector<Element> elements;  // process functions

  void save(runtime::StateWriter& w) const;
  void load(runtime::StateReader& r);
};

struct WindowBucket {
  struct Entry {
    std::string key;
    Tag first;  // the Tag of the key's first element in the window: results go out in this order
  };
  std::vector<Entry> order;
  std::unordered_map<std::string, Acc> accs;
};

struct Session {
  TimestampMs start = 0, end = 0;
  Tag first;  // of the element that opened it (merged sessions: the earliest)
  Acc acc;
};

struct StepState {
  std::unordered_map<std::string, Acc> keyed;                           // rolling aggregations and reduce
  std::unordered_map<std::string, Element> keyed_state;                 // keyed process functions
  std::map<std::pair<TimestampMs, TimestampMs>, WindowBucket> windows;  // by (end, start)
  std::map<std::string, std::vector<Session>> sessions;                 // by key
  TimestampMs session_due = INT64_MAX;                                  // at most the least end - 1 of the sessions
  TimestampMs watermark = INT64_MIN;

  bool empty() const { return keyed.empty() && keyed_state.empty() && windows.empty() && sessions.empty(); }
  void save(runtime::StateWriter& w) const;
  void load(runtime::StateReader& r);
};

// Steps [from, to) of the pipeline, under one key. In key groups, each key_by after the first
// stateful step starts a stage: `to` is that key_by, and the elements reaching it go to the next
// stage's groups by their new key. In one group, one stage runs everything.
struct Stage {
  size_t from = 0, to = 0;
  std::vector<size_t> windows;  // its window steps, as indexes into JobShape::windows
};

// What the steps of every group share: the pipeline, the names of its steps, its stages and
// which steps are windows.
struct JobShape {
  const Pipeline* pipeline = nullptr;
  std::vector<std::string> names;  // op_<i>_<kind>
  std::vector<Stage> stages;
  std::vector<size_t> windows;  // the window steps, in order (Event::wm follows it)
};

// One key group: its steps' state and what it made since that was last taken.
struct KeyGroup {
  KeyGroup(size_t steps, size_t stages) : steps(steps), pending(stages) {}
  std::vector<StepState> steps;             // by step index (the stateless ones stay empty)
  std::vector<std::vector<Input>> pending;  // per stage: inputs routed to it, not yet run
  std::vector<Output> out;
  std::vector<Input> forward;  // elements for the next stage, with their new key
};

// Runs stage `stage` of group `g`. First raises the group's watermarks to `base` (the watermarks
// before `events`: a group with no open windows may skip events). Then runs its pending inputs
// and `events` through the stage's steps in Tag order — an event's part in a stage stands at
// [seq, 1, window step] — appending outputs to `g.out` and elements for the next stage to
// `g.forward`. `functions` are the steps whose functions it calls (each worker thread has its own
// copy). `mark` takes a timestamps step's watermark candidate: only a job without timestamps steps
// after its first stateful one runs in several groups, so only the one group of others calls it.
void run_group(KeyGroup& g, const JobShape& shape, size_t stage, const std::vector<Step>& functions,
               const std::vector<TimestampMs>& base, std::span<const Event> events,
               const std::function<void(TimestampMs)>& mark);

}  // namespace eddy::job::detail
