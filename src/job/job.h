// eddy::job — custom streaming jobs in C++, what a Flink jar is to Kinesis Data Analytics.
//
// A job is a shared library with one entry point, EDDY_JOB(env) { ... }, that describes a pipeline:
// a source stream, transformations, keyed windows and aggregations, and sinks. `eddy jobs deploy
// libjob.so --property-group NAME k=v ...` hands it to a running server, which runs it like a SQL
// application: source positions, window state and output ordinals are checkpointed, and outputs
// are exactly-once across crashes.
//
// Elements are JSON values (nlohmann::json), like the records of the streams; aggregations name
// fields as Flink's field expressions do. This header only builds the description (the server runs
// it), so a job needs nothing but this header to compile:
//   g++ -std=c++20 -shared -fPIC -I<eddy>/src job.cc -o libjob.so
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace eddy::job {

using Element = nlohmann::json;
using TimestampMs = int64_t;

// Runtime properties, as KDA's EnvironmentProperties: property groups of key/value pairs.
class Properties {
 public:
  Properties() = default;
  explicit Properties(std::map<std::string, std::map<std::string, std::string>> groups) : groups_(std::move(groups)) {}
  // The value, or `fallback` when the group or key is missing.
  std::string get(const std::string& group, const std::string& key, const std::string& fallback = "") const {
    auto g = groups_.find(group);
    if (g == groups_.end()) return fallback;
    auto k = g->second.find(key);
    return k == g->second.end() ? fallback : k->second;
  }
  // The value; a job that cannot run without it fails to deploy with this message.
  std::string require(const std::string& group, const std::string& key) const {
    auto g = groups_.find(group);
    if (g == groups_.end() || !g->second.count(key)) {
      throw std::invalid_argument("property " + key + " of group " + group +
                                  " is required (eddy jobs deploy --property-group " + group + " " + key + "=...)");
    }
    return g->second.at(key);
  }
  const std::map<std::string, std::map<std::string, std::string>>& groups() const { return groups_; }

 private:
  std::map<std::string, std::map<std::string, std::string>> groups_;
};

class Collector {
 public:
  virtual ~Collector() = default;
  virtual void collect(Element e) = 0;
};

struct Window {
  TimestampMs start = 0;
  TimestampMs end = 0;  // exclusive; the window's results carry timestamp end - 1
};

enum class StartingPosition { kTrimHorizon, kLatest };

// ---- the description the server runs ---------------------------------------------------------

struct WindowSpec {
  enum class Kind { kTumbling, kSliding, kSession } kind = Kind::kTumbling;
  bool event_time = true;   // else processing time: the records' arrival time in the stream
  TimestampMs size_ms = 0;  // tumbling/sliding size, session gap
  TimestampMs slide_ms = 0;
};

// One step of the pipeline. Steps run in order; `name` (op_<index>_<kind>) keys its checkpointed
// state, so a redeployed job keeps the state of the steps it still has at the same place.
struct Step {
  enum class Kind {
    kMap,
    kFilter,
    kFlatMap,
    kTimestamps,
    kKeyBy,
    kKeyedReduce,
    kKeyedAggregate,
    kKeyedProcess,
    kWindowAggregate,
    kWindowReduce,
    kWindowProcess,
    kSinkStream,
    kSinkDelivery
  } kind;
  std::function<Element(const Element&)> map;
  std::function<bool(const Element&)> filter;
  std::function<void(const Element&, Collector&)> flat_map;
  std::function<TimestampMs(const Element&)> timestamp;
  TimestampMs max_out_of_orderness_ms = 0;
  std::function<std::string(const Element&)> key;
  std::function<Element(const Element&, const Element&)> reduce;
  // Aggregations: "sum", "min", "max", "min_by", "max_by", "count", "avg" over `field`.
  std::string aggregate;
  std::string field;
  std::function<void(const std::string& key, const Element& e, Element& state, Collector& out)> keyed_process;
  WindowSpec window;
  std::function<void(const std::string& key, const Window& w, const std::vector<Element>& elements, Collector& out)>
      window_process;
  std::string target;                                 // sinks: a stream name, or a delivery stream name
  std::function<std::string(const Element&)> format;  // sinks: the record; default: compact JSON
};

struct Pipeline {
  std::string source;
  StartingPosition start = StartingPosition::kLatest;
  std::vector<Step> steps;
  std::vector<size_t> sinks;  // indexes of the sink steps (each ends a branch of the same chain)
};

class KeyedStream;
class WindowedStream;

// A stream of elements. Streams are linear: each call appends a step to the job's one chain; a
// sink may be followed by more steps (they see the same elements the sink saw).
// With --parallelism N > 1 the functions run on N threads, each thread calling its own copy of the
// function (as each Flink subtask has its own instance): they must not share mutable state
// through pointers or references they capture. Keyed state is split by key hash into 128 key
// groups spread over the threads; the outputs are those of one thread, in the same order.
class Stream {
 public:
  Stream map(std::function<Element(const Element&)> f) { return add({.kind = Step::Kind::kMap, .map = std::move(f)}); }
  Stream filter(std::function<bool(const Element&)> f) {
    return add({.kind = Step::Kind::kFilter, .filter = std::move(f)});
  }
  // Zero or more elements per element (Flink's flatMap / a ProcessFunction without state).
  Stream flat_map(std::function<void(const Element&, Collector&)> f) {
    return add({.kind = Step::Kind::kFlatMap, .flat_map = std::move(f)});
  }
  Stream process(std::function<void(const Element&, Collector&)> f) { return flat_map(std::move(f)); }
  // Event time: each element's timestamp, and watermarks that trail the largest timestamp seen by
  // `max_out_of_orderness_ms` (per source shard; the minimum across shards), as Flink's
  // WatermarkStrategy.forBoundedOutOfOrderness.
  Stream assign_timestamps(std::function<TimestampMs(const Element&)> f, TimestampMs max_out_of_orderness_ms = 0) {
    return add({.kind = Step::Kind::kTimestamps,
                .timestamp = std::move(f),
                .max_out_of_orderness_ms = max_out_of_orderness_ms});
  }
  // Timestamps from a field holding an ISO-8601 / 'yyyy-MM-dd HH:mm:ss[.SSS]' text or epoch ms.
  Stream assign_timestamps(const std::string& field, TimestampMs max_out_of_orderness_ms = 0);
  KeyedStream key_by(const std::string& field);
  KeyedStream key_by(std::function<std::string(const Element&)> f);
  // Writes each element as one record: `format` (default: compact JSON) of it.
  Stream sink_to_stream(const std::string& stream, std::function<std::string(const Element&)> format = {}) {
    return sink(Step::Kind::kSinkStream, stream, std::move(format));
  }
  Stream sink_to_delivery_stream(const std::string& delivery_stream,
                                 std::function<std::string(const Element&)> format = {}) {
    return sink(Step::Kind::kSinkDelivery, delivery_stream, std::move(format));
  }

 protected:
  friend class Environment;
  friend class KeyedStream;
  friend class WindowedStream;
  explicit Stream(std::shared_ptr<Pipeline> p) : p_(std::move(p)) {}
  Stream add(Step s) {
    p_->steps.push_back(std::move(s));
    return Stream(p_);
  }
  Stream sink(Step::Kind kind, const std::string& target, std::function<std::string(const Element&)> format) {
    Step s{.kind = kind};
    s.target = target;
    s.format = std::move(format);
    p_->sinks.push_back(p_->steps.size());
    return add(std::move(s));
  }
  std::shared_ptr<Pipeline> p_;
};

// Elements partitioned by key: rolling aggregations and keyed state, or windows.
class KeyedStream : public Stream {
 public:
  // Rolling: each element emits the aggregate of its key so far (Flink's KeyedStream.sum/max/...).
  Stream sum(const std::string& field) { return agg("sum", field); }
  Stream min(const std::string& field) { return agg("min", field); }
  Stream max(const std::string& field) { return agg("max", field); }
  Stream min_by(const std::string& field) { return agg("min_by", field); }
  Stream max_by(const std::string& field) { return agg("max_by", field); }
  Stream reduce(std::function<Element(const Element&, const Element&)> f) {
    return add({.kind = Step::Kind::kKeyedReduce, .reduce = std::move(f)});
  }
  // A keyed process function with a JSON state per key (null at first), checkpointed.
  Stream process(std::function<void(const std::string& key, const Element& e, Element& state, Collector& out)> f) {
    return add({.kind = Step::Kind::kKeyedProcess, .keyed_process = std::move(f)});
  }
  WindowedStream window(WindowSpec spec);

 private:
  friend class Stream;
  explicit KeyedStream(std::shared_ptr<Pipeline> p) : Stream(std::move(p)) {}
  Stream agg(const char* kind, const std::string& field) {
    Step s{.kind = Step::Kind::kKeyedAggregate};
    s.aggregate = kind;
    s.field = field;
    return add(std::move(s));
  }
};

// Windows of a keyed stream. Aggregations follow Flink: sum/min/max emit the window's first
// element with `field` replaced by the result; min_by/max_by emit the element holding the extreme
// (the first on ties); count adds a "count" field to the first element; avg replaces `field` by
// the mean. Every result also gets "window_start" and "window_end" (epoch ms).
class WindowedStream {
 public:
  Stream sum(const std::string& field) { return agg("sum", field); }
  Stream min(const std::string& field) { return agg("min", field); }
  Stream max(const std::string& field) { return agg("max", field); }
  Stream min_by(const std::string& field) { return agg("min_by", field); }
  Stream max_by(const std::string& field) { return agg("max_by", field); }
  Stream count() { return agg("count", ""); }
  Stream avg(const std::string& field) { return agg("avg", field); }
  Stream reduce(std::function<Element(const Element&, const Element&)> f) {
    Step s{.kind = Step::Kind::kWindowReduce, .reduce = std::move(f)};
    s.window = spec_;
    return Stream(p_).add(std::move(s));
  }
  // All elements of a window of a key, in arrival order, when it fires.
  Stream process(
      std::function<void(const std::string& key, const Window& w, const std::vector<Element>& elements, Collector& out)>
          f) {
    Step s{.kind = Step::Kind::kWindowProcess};
    s.window = spec_;
    s.window_process = std::move(f);
    return Stream(p_).add(std::move(s));
  }

 private:
  friend class KeyedStream;
  WindowedStream(std::shared_ptr<Pipeline> p, WindowSpec spec) : p_(std::move(p)), spec_(spec) {}
  Stream agg(const char* kind, const std::string& field) {
    Step s{.kind = Step::Kind::kWindowAggregate};
    s.aggregate = kind;
    s.field = field;
    s.window = spec_;
    return Stream(p_).add(std::move(s));
  }
  std::shared_ptr<Pipeline> p_;
  WindowSpec spec_;
};

inline WindowSpec tumbling_event_time(TimestampMs size_ms) {
  return {WindowSpec::Kind::kTumbling, true, size_ms, size_ms};
}
inline WindowSpec sliding_event_time(TimestampMs size_ms, TimestampMs slide_ms) {
  return {WindowSpec::Kind::kSliding, true, size_ms, slide_ms};
}
inline WindowSpec session_event_time(TimestampMs gap_ms) {
  return {WindowSpec::Kind::kSession, true, gap_ms, 0};
}
inline WindowSpec tumbling_processing_time(TimestampMs size_ms) {
  return {WindowSpec::Kind::kTumbling, false, size_ms, size_ms};
}
inline WindowSpec sliding_processing_time(TimestampMs size_ms, TimestampMs slide_ms) {
  return {WindowSpec::Kind::kSliding, false, size_ms, slide_ms};
}
inline WindowSpec session_processing_time(TimestampMs gap_ms) {
  return {WindowSpec::Kind::kSession, false, gap_ms, 0};
}

// What the entry point receives: the job's properties, and where its source is declared.
class Environment {
 public:
  explicit Environment(Properties properties) : properties_(std::move(properties)), p_(std::make_shared<Pipeline>()) {}
  const Properties& properties() const { return properties_; }
  // The source: the JSON records of an eddy stream (a record that is not JSON goes to the error
  // rows). `start` applies to the first run; later runs continue from the checkpoint.
  Stream from_stream(const std::string& stream, StartingPosition start = StartingPosition::kLatest) {
    if (!p_->source.empty()) throw std::invalid_argument("a job reads one source stream");
    p_->source = stream;
    p_->start = start;
    return Stream(p_);
  }
  const Pipeline& pipeline() const { return *p_; }

 private:
  Properties properties_;
  std::shared_ptr<Pipeline> p_;
};

// ---- inline definitions -----------------------------------------------------------------------

// Parses 'yyyy-MM-dd HH:mm:ss[.fff...]' or ISO-8601 'yyyy-MM-ddTHH:mm:ss[.fff...][Z]' (UTC);
// nullopt if the text is neither.
inline std::optional<TimestampMs> parse_job_timestamp(const Element& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  auto digits = [&s](size_t at, size_t n, int& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!digits(0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
      (s[10] != ' ' && s[10] != 'T') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' ||
      !digits(17, 2, se)) {
    return std::nullopt;
  }
  int ms = 0;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    int scale = 100;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) ms += (s[i] - '0') * scale;
  }
  if (i < s.size() && s[i] == 'Z') ++i;
  if (i != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                         std::chrono::day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  const int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  return ((days * 24 + h) * 60 + mi) * 60'000 + int64_t{se} * 1000 + ms;
}

inline Stream Stream::assign_timestamps(const std::string& field, TimestampMs max_out_of_orderness_ms) {
  return assign_timestamps(
      [field](const Element& e) -> TimestampMs {
        auto it = e.find(field);
        if (it == e.end()) throw std::invalid_argument("the element has no field " + field);
        if (it->is_number()) return it->get<TimestampMs>();
        auto t = parse_job_timestamp(*it);
        if (!t) throw std::invalid_argument("field " + field + " is not a timestamp: " + it->dump());
        return *t;
      },
      max_out_of_orderness_ms);
}

inline KeyedStream Stream::key_by(const std::string& field) {
  return key_by([field](const Element& e) -> std::string {
    auto it = e.find(field);
    if (it == e.end()) return "";
    return it->is_string() ? it->get<std::string>() : it->dump();
  });
}

inline KeyedStream Stream::key_by(std::function<std::string(const Element&)> f) {
  Step s{.kind = Step::Kind::kKeyBy};
  s.key = std::move(f);
  p_->steps.push_back(std::move(s));
  return KeyedStream(p_);
}

inline WindowedStream KeyedStream::window(WindowSpec spec) {
  return WindowedStream(p_, spec);
}

}  // namespace eddy::job

// The entry point of a job library: EDDY_JOB(env) { auto s = env.from_stream(...); ... }
#define EDDY_JOB(env)                                           \
  extern "C" void eddy_job_main(::eddy::job::Environment& env); \
  extern "C" void eddy_job_main(::eddy::job::Environment& env)
