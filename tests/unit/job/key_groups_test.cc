// Jobs whose keyed state is split into key groups (a key_by before the first stateful step):
// whatever the number of threads, however the records come (one by one or in batches), and
// across a checkpoint taken at one thread count and resumed at another, the sinks and the error
// rows get what one group on one thread gives, in the same interleaved order.
#include "job/job_program.h"

#include "common/worker_pool.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eddy::job {
namespace {

// What the job writes, sinks and error rows in one list, each line tagged with where it went.
struct JobRun {
  LoadedJob job;
  std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();

  JobRun(const Environment& env, bool key_groups) {
    auto j = make_job(env.pipeline(), nullptr, key_groups);
    EXPECT_TRUE(j.has_value()) << (j ? "" : j.error().message);
    job = std::move(*j);
    for (const auto& s : job.sinks) {
      (void)job.program->subscribe_records(s.name, false,
                                           [l = lines, n = s.name](std::string r) { l->push_back(n + " " + r); });
    }
    job.program->subscribe_errors([l = lines](std::string r) { l->push_back("error " + r); });
  }
};

// A record, or a tick of time (advance_time) when `tick` is set.
struct Op {
  std::string record;
  TimestampMs arrival = 0;
  size_t lane = 0;
  std::optional<TimestampMs> tick;
};

std::vector<Op> workload() {
  std::vector<Op> ops;
  const int keys = 23;
  for (int i = 0; i < 1200; ++i) {
    const TimestampMs arrival = 1'000'000 + i * 40;
    if (i % 97 == 5) {
      ops.push_back({"{not json", arrival, static_cast<size_t>(i % 3), std::nullopt});
      continue;
    }
    // Event time moves forward with some disorder; every 61st record is far behind (late).
    int64_t ms = 60'000 + i * 150 + ((i * 7919) % 2'500);
    if (i % 61 == 30) ms -= 40'000;
    nlohmann::json e = {{"TS", ms}, {"K", "key" + std::to_string((i * 13) % keys)}, {"V", (i * 37) % 101}};
    if (i % 89 == 7) e["V"] = "n/a";  // aggregations skip it with an error row
    ops.push_back({e.dump(), arrival, static_cast<size_t>(i % 3), std::nullopt});
    if (i % 50 == 49) ops.push_back({"", 0, 0, arrival + 700});
  }
  return ops;
}

// "" if equal, else where they first differ (the lists are long).
std::string difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    const std::string g = i < got.size() ? got[i] : "(nothing)";
    const std::string w = i < want.size() ? want[i] : "(nothing)";
    if (g != w) {
      return "line " + std::to_string(i) + " of " + std::to_string(got.size()) + "/" + std::to_string(want.size()) +
             ":\n  got  " + g + "\n  want " + w;
    }
  }
  return "";
}

using Build = std::function<void(Environment&)>;

// A window's result, timed at its window's end (for a window after it).
Element at_window_end(const Element& e) {
  Element o = e;
  o["TS"] = e["window_end"];
  return o;
}

// The pipelines: every kind of stateful step, windows feeding windows, functions that throw.
std::vector<std::pair<std::string, Build>> pipelines() {
  auto timed = [](Environment& env) { return env.from_stream("in").assign_timestamps("TS", 3'000); };
  std::vector<std::pair<std::string, Build>> out;
  out.emplace_back("sliding max_by, then a tumbling count of its results", [timed](Environment& env) {
    timed(env)
        .key_by("K")
        .window(sliding_event_time(20'000, 5'000))
        .max_by("V")
        .sink_to_stream("maxes")
        .map(at_window_end)
        .key_by("K")  // the same key again: a second stage, in the same groups
        .window(tumbling_event_time(30'000))
        .count()
        .sink_to_stream("counts");
  });
  out.emplace_back("tumbling sum, then an average over other keys", [timed](Environment& env) {
    timed(env)
        .key_by("K")
        .window(tumbling_event_time(10'000))
        .sum("V")
        .sink_to_stream("sums")
        .map(at_window_end)
        .key_by([](const Element& e) {
          return e["K"].get<std::string>().substr(0, 4) + std::to_string(e["V"].get<int>() % 3);
        })
        .window(tumbling_event_time(20'000))
        .avg("V")
        .sink_to_stream("averages");
  });
  out.emplace_back("session avg and window process", [timed](Environment& env) {
    timed(env)
        .key_by("K")
        .window(session_event_time(4'000))
        .avg("V")
        .sink_to_stream("avg")
        .key_by("K")
        .window(sliding_event_time(12'000, 4'000))
        .process([](const std::string& key, const Window& w, const std::vector<Element>& elements, Collector& c) {
          if (elements.size() == 3) throw std::runtime_error("three is a bad number");
          c.collect({{"K", key}, {"from", w.start}, {"n", elements.size()}});
          if (elements.size() > 1) c.collect({{"K", key}, {"again", true}});
        })
        .sink_to_stream("processed");
  });
  out.emplace_back("keyed reduce, rolling max, keyed process fan-out", [](Environment& env) {
    env.from_stream("in")
        .filter([](const Element& e) { return e["K"] != "key7"; })
        .key_by("K")
        .process([](const std::string& key, const Element& e, Element& state, Collector& c) {
          state = state.is_null() ? 1 : state.get<int>() + 1;
          if (state.get<int>() % 11 == 0) throw std::runtime_error("eleven for " + key);
          c.collect(e);
          if (state.get<int>() % 3 == 0) c.collect({{"K", key}, {"V", state}});
        })
        .sink_to_stream("processed")
        .key_by("K")
        .max("V")
        .sink_to_stream("rolling")
        .key_by("K")
        .reduce([](const Element& a, const Element& b) {
          Element o = b;
          o["V"] = a["V"].is_number() && b["V"].is_number() ? a["V"].get<int>() + b["V"].get<int>() : 0;
          return o;
        })
        .sink_to_stream("reduced");
  });
  out.emplace_back("processing-time tumbling and sliding windows", [](Environment& env) {
    env.from_stream("in")
        .key_by("K")
        .window(tumbling_processing_time(1'000))
        .count()
        .sink_to_stream("counts")
        .key_by("K")
        .window(sliding_processing_time(3'000, 1'000))
        .min("count")
        .sink_to_stream("mins");
  });
  return out;
}

// Feeds `ops` from `from` to `to`: one by one (threads 0) or in batches of 83 on a pool.
void feed(JobRun& run, const std::vector<Op>& ops, size_t from, size_t to, size_t threads) {
  std::optional<WorkerPool> pool;
  if (threads > 0) pool.emplace(threads);
  std::vector<runtime::SourceRecord> batch;
  auto send = [&] {
    if (!batch.empty()) run.job.program->push_records(0, batch, *pool);
    batch.clear();
  };
  for (size_t i = from; i < to; ++i) {
    const Op& op = ops[i];
    if (op.tick) {
      if (pool) send();
      run.job.program->advance_time(*op.tick);
      continue;
    }
    if (!pool) {
      run.job.program->push_record(0, op.record, op.arrival, static_cast<int64_t>(i), op.lane);
      continue;
    }
    batch.push_back({op.record, op.arrival, static_cast<int64_t>(i), op.lane});
    if (batch.size() == 83) send();
  }
  if (pool) send();
}

TEST(JobKeyGroups, EveryThreadCountEmitsWhatOneGroupEmits) {
  const auto ops = workload();
  for (const auto& [name, build] : pipelines()) {
    Environment env{Properties{}};
    build(env);
    JobRun reference(env, false);
    feed(reference, ops, 0, ops.size(), 0);
    reference.job.program->flush();
    const auto& want = *reference.lines;
    size_t errors = 0;
    for (const auto& l : want) errors += l.rfind("error ", 0) == 0;
    ASSERT_GT(want.size() - errors, 100u) << name;
    EXPECT_GT(errors, 10u) << name << ": the workload must raise error rows";
    EXPECT_EQ(reference.job.program->save_state().find("key groups"), std::string::npos) << name;

    for (size_t threads : {0, 1, 2, 4}) {
      JobRun split(env, true);
      EXPECT_NE(split.job.program->save_state().find("key groups 128"), std::string::npos) << name;
      feed(split, ops, 0, ops.size(), threads);
      split.job.program->flush();
      EXPECT_EQ(difference(*split.lines, want), "") << name << " at " << threads << " thread(s)";
    }
  }
}

TEST(JobKeyGroups, StateSavedAtOneThreadCountResumesAtAnother) {
  const auto ops = workload();
  for (const auto& [name, build] : pipelines()) {
    Environment env{Properties{}};
    build(env);
    JobRun reference(env, true);
    feed(reference, ops, 0, ops.size(), 0);
    reference.job.program->flush();

    for (auto [before, after] : std::vector<std::pair<size_t, size_t>>{{2, 4}, {4, 1}, {0, 2}}) {
      const size_t cut = ops.size() * (before + 1) / 7;
      JobRun first(env, true);
      feed(first, ops, 0, cut, before);
      JobRun second(env, true);
      auto notes = second.job.program->load_state(first.job.program->save_state());
      ASSERT_TRUE(notes.has_value()) << notes.error().message;
      EXPECT_TRUE(notes->empty()) << name;
      feed(second, ops, cut, ops.size(), after);
      second.job.program->flush();
      std::vector<std::string> resumed = *first.lines;
      resumed.insert(resumed.end(), second.lines->begin(), second.lines->end());
      EXPECT_EQ(difference(resumed, *reference.lines), "")
          << name << ": saved at " << before << ", resumed at " << after;
    }
  }
}

// What a job's functions do wrong becomes error rows, on any thread: throwing something that is
// not a std::exception, putting invalid UTF-8 in an element or in keyed state.
TEST(JobKeyGroups, FunctionsThatThrowAnythingOrMakeInvalidTextGiveErrorRows) {
  Environment env{Properties{}};
  env.from_stream("in")
      .map([](const Element& e) {
        if (e["V"] == 13) throw 13;
        return e;
      })
      .key_by("K")
      .process([](const std::string&, const Element& e, Element& state, Collector& c) {
        state = std::string("\xff\xfe");
        if (e["V"] == 14) throw "a C string";
        Element o = e;
        if (e["V"] == 15) o["bad"] = std::string("\xc3");
        c.collect(o);
      })
      .sink_to_stream("o");
  for (size_t threads : {0, 2}) {
    JobRun run(env, true);
    std::vector<Op> ops;
    for (int v : {12, 13, 14, 15, 16})
      ops.push_back({nlohmann::json{{"K", "k" + std::to_string(v)}, {"V", v}}.dump(), 0, 0, std::nullopt});
    feed(run, ops, 0, ops.size(), threads);
    run.job.program->flush();
    std::string all;
    for (const auto& l : *run.lines) all += l + "\n";
    EXPECT_EQ(run.lines->size(), 5u) << all;
    EXPECT_NE(all.find("op_0_map: it threw something that is not a std::exception"), std::string::npos) << all;
    EXPECT_NE(all.find("op_2_keyed_process: it threw something"), std::string::npos) << all;
    EXPECT_NE(all.find("sink_3 {\"K\":\"k16\""), std::string::npos) << all;
    EXPECT_FALSE(run.job.program->save_state().empty());
  }
}

// A timestamps step after the first stateful one keeps the job in one group (the watermark would
// depend on the order the groups take their elements in); it still runs on several threads.
TEST(JobKeyGroups, TimestampsAfterAStatefulStepKeepOneGroup) {
  Environment env{Properties{}};
  env.from_stream("in")
      .key_by("K")
      .max("V")
      .assign_timestamps("TS", 3'000)
      .key_by([](const Element& e) { return std::to_string(e["V"].is_number() ? e["V"].get<int>() % 5 : -1); })
      .window(tumbling_event_time(10'000))
      .count()
      .sink_to_stream("o");
  const auto ops = workload();
  JobRun one(env, true);
  EXPECT_EQ(one.job.program->save_state().find("key groups"), std::string::npos);
  feed(one, ops, 0, ops.size(), 0);
  one.job.program->flush();
  JobRun two(env, true);
  feed(two, ops, 0, ops.size(), 2);
  two.job.program->flush();
  EXPECT_GT(one.lines->size(), 50u);
  EXPECT_EQ(difference(*two.lines, *one.lines), "");
}

}  // namespace
}  // namespace eddy::job
