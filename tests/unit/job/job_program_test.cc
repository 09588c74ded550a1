// C++ jobs as the server runs them: windows and aggregations with Flink's semantics (max keeps
// the first element's other fields, max_by the whole maximum element), sessions, keyed state,
// processing time as arrival time, and state that survives a save/load mid-stream.
#include "job/job_program.h"

#include "common/worker_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace eddy::job {
namespace {

struct Harness {
  LoadedJob job;
  std::vector<std::string> out, errors;

  explicit Harness(const Environment& env) {
    auto j = make_job(env.pipeline());
    EXPECT_TRUE(j.has_value()) << (j ? "" : j.error().message);
    job = std::move(*j);
    for (const auto& s : job.sinks)
      (void)job.program->subscribe_records(s.name, false, [this](std::string r) { out.push_back(r); });
    job.program->subscribe_errors([this](std::string r) { errors.push_back(r); });
  }
  void put(const std::string& json, TimestampMs arrival = 0, size_t shard = 0) {
    job.program->push_record(0, json, arrival, 0, shard);
  }
};

std::string trade(int sec, const char* ticker, double price) {
  char buf[128];
  std::snprintf(buf, sizeof buf, R"({"EVENT_TIME":"2021-01-31 09:30:%02d.000","TICKER":"%s","PRICE":%g})", sec, ticker,
                price);
  return buf;
}

Environment tumbling(const char* agg) {
  Environment env{Properties{}};
  auto keyed =
      env.from_stream("in").assign_timestamps("EVENT_TIME").key_by("TICKER").window(tumbling_event_time(10'000));
  Stream s = std::string(agg) == "max" ? keyed.max("PRICE") : keyed.max_by("PRICE");
  s.sink_to_stream("out",
                   [](const Element& e) { return e["EVENT_TIME"].get<std::string>() + " " + e["PRICE"].dump(); });
  return env;
}

TEST(JobProgram, MaxKeepsTheFirstElementsFieldsAndMaxByTheMaximumElement) {
  for (const char* agg : {"max", "max_by"}) {
    Harness h(tumbling(agg));
    h.put(trade(1, "AMZN", 10));
    h.put(trade(4, "AMZN", 30));
    h.put(trade(7, "AMZN", 20));
    EXPECT_TRUE(h.out.empty()) << "the window [09:30:00, 09:30:10) is open";
    h.put(trade(12, "AMZN", 5));  // the watermark passes 09:30:10
    ASSERT_EQ(h.out.size(), 1u) << agg;
    EXPECT_EQ(h.out[0], std::string(agg) == "max" ? "2021-01-31 09:30:01.000 30" : "2021-01-31 09:30:04.000 30") << agg;
  }
}

TEST(JobProgram, TheWatermarkIsTheLeastOfItsWindows) {
  Harness h(tumbling("max"));
  EXPECT_FALSE(h.job.program->watermark().has_value()) << "nothing seen yet";
  h.put(trade(1, "AMZN", 10));
  h.put(trade(12, "AMZN", 5));
  const auto w = h.job.program->watermark();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w % 60'000, 12'000) << "09:30:12, the largest event time (no out-of-orderness allowed)";
}

TEST(JobProgram, SlidingWindowsSessionsCountAndAvg) {
  Environment env{Properties{}};
  auto s = env.from_stream("in").assign_timestamps("EVENT_TIME");
  s.key_by("TICKER").window(sliding_event_time(20'000, 10'000)).count().sink_to_stream("count", [](const Element& e) {
    return e["TICKER"].get<std::string>() + "@" + std::to_string(e["window_end"].get<int64_t>() % 60'000) + "=" +
           e["count"].dump();
  });
  Harness h(env);
  for (int sec : {1, 5, 11, 15, 25}) h.put(trade(sec, "GOOG", 1));
  h.job.program->flush();
  // Windows ending :10 {1,5}, :20 {1,5,11,15}, :30 {11,15,25}, :40 {25}.
  EXPECT_EQ(h.out, (std::vector<std::string>{"GOOG@10000=2", "GOOG@20000=4", "GOOG@30000=3", "GOOG@40000=1"}));

  Environment sessions{Properties{}};
  sessions.from_stream("in")
      .assign_timestamps("EVENT_TIME")
      .key_by("TICKER")
      .window(session_event_time(3'000))
      .avg("PRICE")
      .sink_to_stream("avg", [](const Element& e) { return e["TICKER"].get<std::string>() + " " + e["PRICE"].dump(); });
  Harness hs(sessions);
  for (auto [sec, price] : std::vector<std::pair<int, double>>{{1, 2}, {2, 4}, {9, 10}, {10, 20}})
    hs.put(trade(sec, "BABA", price));
  hs.job.program->flush();
  EXPECT_EQ(hs.out, (std::vector<std::string>{"BABA 3.0", "BABA 15.0"}));
}

TEST(JobProgram, ProcessingTimeWindowsCloseOnArrivalTime) {
  Environment env{Properties{}};
  env.from_stream("in")
      .key_by("TICKER")
      .window(tumbling_processing_time(1000))
      .sum("PRICE")
      .sink_to_stream("sum", [](const Element& e) { return e["PRICE"].dump(); });
  Harness h(env);
  h.put(trade(0, "AMZN", 1), 5'000);
  h.put(trade(0, "AMZN", 2), 5'500);
  h.job.program->advance_time(5'999);
  EXPECT_TRUE(h.out.empty());
  h.job.program->advance_time(6'000);
  EXPECT_EQ(h.out, std::vector<std::string>{"3"});
}

TEST(JobProgram, KeyedProcessStateAndErrorsGoToTheErrorRows) {
  Environment env{Properties{}};
  env.from_stream("in")
      .key_by("TICKER")
      .process([](const std::string& key, const Element& e, Element& state, Collector& out) {
        state = state.is_null() ? 1 : state.get<int>() + 1;
        if (e["PRICE"].get<double>() < 0) throw std::runtime_error("negative price");
        out.collect({{"key", key}, {"seen", state}});
      })
      .sink_to_stream("o");
  Harness h(env);
  h.put(trade(1, "ORCL", 1));
  h.put("not json");
  h.put(trade(2, "ORCL", -1));
  h.put(trade(3, "ORCL", 1));
  EXPECT_EQ(h.out, (std::vector<std::string>{R"({"key":"ORCL","seen":1})", R"({"key":"ORCL","seen":3})"}));
  ASSERT_EQ(h.errors.size(), 2u);
  EXPECT_NE(h.errors[0].find("Invalid_Record"), std::string::npos);
  EXPECT_NE(h.errors[1].find("negative price"), std::string::npos);
}

TEST(JobProgram, SavedStateResumesTheOpenWindows) {
  std::vector<std::string> whole;
  {
    Harness h(tumbling("max"));
    for (int sec = 0; sec < 40; ++sec) h.put(trade(sec, sec % 2 ? "AMZN" : "GOOG", (sec * 37) % 100));
    h.job.program->flush();
    whole = h.out;
  }
  ASSERT_EQ(whole.size(), 8u);
  for (int cut : {3, 15, 26}) {
    Harness first(tumbling("max"));
    for (int sec = 0; sec < cut; ++sec) first.put(trade(sec, sec % 2 ? "AMZN" : "GOOG", (sec * 37) % 100));
    const std::string state = first.job.program->save_state();
    Harness second(tumbling("max"));
    auto notes = second.job.program->load_state(state);
    ASSERT_TRUE(notes.has_value()) << notes.error().message;
    EXPECT_TRUE(notes->empty());
    for (int sec = cut; sec < 40; ++sec) second.put(trade(sec, sec % 2 ? "AMZN" : "GOOG", (sec * 37) % 100));
    second.job.program->flush();
    std::vector<std::string> resumed = first.out;
    resumed.insert(resumed.end(), second.out.begin(), second.out.end());
    EXPECT_EQ(resumed, whole) << "cut at " << cut;
  }
}

// --parallelism: a batch's records are parsed and run through the stateless steps on several
// threads, each with its own copy of the functions — one batch at a time (push_records, the key
// groups on the threads too) or each thread a batch of its own (push_batches, the key groups in
// the batches' turns); the output and error rows are those of the records taken one by one (not
// JSON, a map that throws, flat_map fan-out, filter, shards).
TEST(JobProgram, BatchesOnSeveralThreadsEmitWhatRecordsOneByOneEmit) {
  auto run = [](size_t threads, bool batches = false) {
    Environment env{Properties{}};
    env.from_stream("in")
        .map([](const Element& e) {
          if (e["PRICE"].get<double>() == 13) throw std::runtime_error("unlucky price");
          Element out = e;
          out["PRICE"] = e["PRICE"].get<double>() * 2;
          return out;
        })
        .filter([](const Element& e) { return e["PRICE"].get<double>() != 40; })
        .flat_map([](const Element& e, Collector& c) {
          c.collect(e);
          if (e["TICKER"] == "AMZN") c.collect(e);  // twice
        })
        .assign_timestamps("EVENT_TIME", 2'000)
        .key_by("TICKER")
        .window(sliding_event_time(20'000, 5'000))
        .max("PRICE")
        .sink_to_stream("out", [](const Element& e) { return e.dump(); });
    Harness h(env);
    const char* tickers[] = {"AMZN", "GOOG", "ORCL", "BABA", "AZRE"};
    std::vector<std::string> texts;
    for (int i = 0; i < 600; ++i) {
      texts.push_back(i % 97 == 3 ? std::string("{not json")
                                  : trade((i * 7 + (i % 5) * 3) % 60, tickers[(i * 13) % 5], i % 40));
    }
    if (threads == 0) {
      for (size_t i = 0; i < texts.size(); ++i) {
        h.job.program->push_record(0, texts[i], static_cast<TimestampMs>(i), static_cast<int64_t>(i), i % 2);
      }
    } else if (batches) {
      WorkerPool pool(threads);
      size_t next = 0, taken = 0;
      std::vector<size_t> from(threads);
      runtime::BatchSource source;
      source.claim = [&](size_t k) {
        if (next >= texts.size()) return false;
        from[k] = next;
        next += 83;
        return true;
      };
      source.fill = [&](size_t k, std::vector<runtime::SourceRecord>& out) {
        for (size_t i = from[k]; i < std::min(texts.size(), from[k] + 83); ++i) {
          out.push_back({texts[i], static_cast<TimestampMs>(i), static_cast<int64_t>(i), i % 2});
        }
      };
      source.done = [&](size_t, const std::vector<runtime::SourceRecord>& in, size_t n) {
        EXPECT_EQ(n, in.size());
        taken += n;
        return true;
      };
      h.job.program->push_batches(0, pool, source);
      EXPECT_EQ(taken, texts.size());
    } else {
      WorkerPool pool(threads);
      std::vector<runtime::SourceRecord> batch;
      for (size_t i = 0; i < texts.size(); ++i) {
        batch.push_back({texts[i], static_cast<TimestampMs>(i), static_cast<int64_t>(i), i % 2});
        if (batch.size() == 83 || i + 1 == texts.size()) {
          h.job.program->push_records(0, batch, pool);
          batch.clear();
        }
      }
    }
    h.job.program->flush();
    std::vector<std::string> all = h.out;
    all.insert(all.end(), h.errors.begin(), h.errors.end());
    return all;
  };
  const auto one = run(0);
  size_t errors = 0;
  for (const auto& r : one) errors += r.find("unlucky price") != std::string::npos;
  ASSERT_GT(one.size(), 100u);
  EXPECT_GT(errors, 5u) << "the test needs a step that throws";
  for (size_t threads : {1, 2, 4}) {
    EXPECT_EQ(run(threads), one) << threads << " thread(s)";
    EXPECT_EQ(run(threads, true), one) << threads << " thread(s), push_batches";
  }
}

TEST(JobProgram, BadPipelinesAreRefusedWithTheReason) {
  Environment no_sink{Properties{}};
  no_sink.from_stream("in").map([](const Element& e) { return e; });
  EXPECT_NE(make_job(no_sink.pipeline()).error().message.find("writes nowhere"), std::string::npos);
  Environment no_ts{Properties{}};
  no_ts.from_stream("in").key_by("k").window(tumbling_event_time(1000)).count().sink_to_stream("o");
  EXPECT_NE(make_job(no_ts.pipeline()).error().message.find("assign_timestamps"), std::string::npos);
  EXPECT_FALSE(load_job("/nonexistent/libjob.so", Properties{}).has_value());
}

}  // namespace
}  // namespace eddy::job
