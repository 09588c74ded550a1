#include "job/job_program.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <span>
#include <map>
#include <unordered_map>

#include "common/worker_pool.h"
#include "runtime/state_codec.h"

namespace eddy::job {

namespace {

using runtime::StateReader;
using runtime::StateWriter;

constexpr std::string_view kStateMagic = "eddy-job-state-1";

const char* kind_name(Step::Kind k) {
  switch (k) {
    case Step::Kind::kMap:
      return "map";
    case Step::Kind::kFilter:
      return "filter";
    case Step::Kind::kFlatMap:
      return "flat_map";
    case Step::Kind::kTimestamps:
      return "timestamps";
    case Step::Kind::kKeyBy:
      return "key_by";
    case Step::Kind::kKeyedReduce:
      return "keyed_reduce";
    case Step::Kind::kKeyedAggregate:
      return "keyed_aggregate";
    case Step::Kind::kKeyedProcess:
      return "keyed_process";
    case Step::Kind::kWindowAggregate:
      return "window_aggregate";
    case Step::Kind::kWindowReduce:
      return "window_reduce";
    case Step::Kind::kWindowProcess:
      return "window_process";
    case Step::Kind::kSinkStream:
      return "sink_stream";
    case Step::Kind::kSinkDelivery:
      return "sink_delivery";
  }
  return "?";
}

bool is_window(Step::Kind k) {
  return k == Step::Kind::kWindowAggregate || k == Step::Kind::kWindowReduce || k == Step::Kind::kWindowProcess;
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

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

  void save(StateWriter& w) const {
    w.str(first.dump());
    w.str(best.dump());
    w.str(extreme.dump());
    w.f64(sum);
    w.i64(isum);
    w.boolean(integral);
    w.i64(count);
    w.u64(elements.size());
    for (const auto& e : elements) w.str(e.dump());
  }
  void load(StateReader& r) {
    auto parse = [&r](const std::string& text) {
      Element e = Element::parse(text, nullptr, false);
      if (e.is_discarded()) r.fail();
      return e;
    };
    first = parse(r.str());
    best = parse(r.str());
    extreme = parse(r.str());
    sum = r.f64();
    isum = r.i64();
    integral = r.boolean();
    count = r.i64();
    elements.resize(r.count());
    for (auto& e : elements) e = parse(r.str());
  }
};

class Emitter final : public Collector {
 public:
  explicit Emitter(std::vector<Element>& out) : out_(out) {}
  void collect(Element e) override { out_.push_back(std::move(e)); }

 private:
  std::vector<Element>& out_;
};

class JobProgram final : public runtime::Program {
 public:
  JobProgram(std::shared_ptr<void> library, Pipeline pipeline)
      : library_(std::move(library)), p_(std::move(pipeline)), steps_(p_.steps.size()) {
    using K = Step::Kind;
    while (prefix_ < p_.steps.size() && (p_.steps[prefix_].kind == K::kMap || p_.steps[prefix_].kind == K::kFilter ||
                                         p_.steps[prefix_].kind == K::kFlatMap || p_.steps[prefix_].kind == K::kTimestamps ||
                                         p_.steps[prefix_].kind == K::kKeyBy)) {
      ++prefix_;
    }
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      auto& s = steps_[i];
      s.name = "op_" + std::to_string(i) + "_" + kind_name(p_.steps[i].kind);
      const auto& st = p_.steps[i];
      s.shape = std::string(kind_name(st.kind)) + " " + st.aggregate + " " + st.field;
      if (is_window(st.kind)) {
        s.shape += " window " + std::to_string(static_cast<int>(st.window.kind)) +
                   (st.window.event_time ? " event " : " processing ") + std::to_string(st.window.size_ms) + " " +
                   std::to_string(st.window.slide_ms);
      }
    }
  }

  void push_record(size_t, std::string_view record, TimestampMs arrival, int64_t origin, size_t lane) override {
    arrival_ = std::max(arrival_, arrival);
    shard_ = static_cast<uint32_t>(lane);
    Element e = Element::parse(record, nullptr, false);
    if (e.is_discarded()) {
      error("Invalid_Record", "the record is not JSON", std::string(record), origin);
    } else {
      origin_ = origin;
      run(0, std::move(e), arrival, "");
    }
    advance_watermarks();
  }

  // The same for several records, with the work up to the first stateful step — parsing, map,
  // filter, flat_map, timestamps, key_by — done on `pool`'s threads, each with its own copy of
  // those steps' functions (as each of Flink's subtasks has its own instance); the stateful
  // steps then take the results in record order, so the output is that of push_record.
  void push_records(size_t input, std::span<const runtime::SourceRecord> records, WorkerPool& pool) override {
    if (pool.size() == 1 || records.size() < 2 || prefix_ == 0) {
      return runtime::Program::push_records(input, records, pool);
    }
    while (prefix_steps_.size() < pool.size()) {
      prefix_steps_.emplace_back(p_.steps.begin(), p_.steps.begin() + static_cast<std::ptrdiff_t>(prefix_));
    }
    if (prepared_.size() < records.size()) prepared_.resize(records.size());
    std::atomic<size_t> next{0};
    pool.run(pool.size(), [&](size_t worker) {
      constexpr size_t kChunk = 64;
      for (size_t from = next.fetch_add(kChunk); from < records.size(); from = next.fetch_add(kChunk)) {
        for (size_t i = from; i < std::min(records.size(), from + kChunk); ++i) prepare(worker, records[i], prepared_[i]);
      }
    });
    for (size_t i = 0; i < records.size(); ++i) take_prepared(records[i], prepared_[i]);
  }

  void advance_time(TimestampMs t) override {
    arrival_ = std::max(arrival_, t);
    advance_watermarks();
  }

  void flush() override {
    flushing_ = true;
    advance_watermarks();
  }

  void set_source_shards(size_t, const std::vector<uint32_t>& shards) override {
    std::map<uint32_t, Mark> next;
    for (uint32_t s : shards) {
      auto it = marks_.find(s);
      next[s] = it == marks_.end() ? Mark{} : it->second;
    }
    marks_ = std::move(next);
    declared_ = true;
    advance_watermarks();
  }

  // The least watermark of its window steps; a job without windows is complete up to the latest
  // arrival time it has seen.
  std::optional<TimestampMs> watermark() const override {
    std::optional<TimestampMs> least;
    bool windows = false;
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      if (!is_window(p_.steps[i].kind)) continue;
      windows = true;
      if (steps_[i].watermark == INT64_MIN) return std::nullopt;
      least = least ? std::min(*least, steps_[i].watermark) : steps_[i].watermark;
    }
    if (windows) return least;
    if (arrival_ == INT64_MIN) return std::nullopt;
    return arrival_;
  }

  std::string save_state() const override {
    StateWriter w;
    w.str(kStateMagic);
    w.i64(arrival_);
    w.u64(marks_.size());
    for (const auto& [shard, m] : marks_) {
      w.u64(shard);
      w.i64(m.max_ts);
      w.boolean(m.seen);
    }
    w.u64(steps_.size());
    for (const auto& s : steps_) {
      StateWriter own;
      save_step(s, own);
      w.str(s.name);
      w.str(s.shape);
      w.str(own.bytes());
    }
    return w.take();
  }

  Result<std::vector<std::string>> load_state(std::string_view bytes) override {
    StateReader r(bytes);
    if (r.str() != kStateMagic || !r.ok()) return make_error(Errc::kInvalidArgument, "not a job state");
    const TimestampMs arrival = r.i64();
    std::map<uint32_t, Mark> marks;
    size_t n = r.count(24);
    for (size_t i = 0; i < n && r.ok(); ++i) {
      auto& m = marks[static_cast<uint32_t>(r.u64())];
      m.max_ts = r.i64();
      m.seen = r.boolean();
    }
    struct Saved {
      std::string shape, bytes;
      bool used = false;
    };
    std::map<std::string, Saved> saved;
    n = r.count(24);
    for (size_t i = 0; i < n && r.ok(); ++i) {
      std::string name = r.str();
      Saved s;
      s.shape = r.str();
      s.bytes = r.str();
      saved.emplace(std::move(name), std::move(s));
    }
    if (!r.done()) return make_error(Errc::kInvalidArgument, "the job state is truncated or corrupt");
    std::vector<std::string> notes;
    for (auto& s : steps_) {
      auto it = saved.find(s.name);
      if (it == saved.end()) {
        if (stateful(s)) notes.push_back("step " + s.name + " is new: it starts with no state");
        continue;
      }
      it->second.used = true;
      if (it->second.shape != s.shape) {
        notes.push_back("step " + s.name + " changed (" + it->second.shape + " -> " + s.shape +
                        "): its saved state was dropped");
        continue;
      }
      StateReader sr(it->second.bytes);
      load_step(s, sr);
      if (!sr.done()) return make_error(Errc::kInvalidArgument, "the saved state of step " + s.name + " is corrupt");
    }
    for (const auto& [name, s] : saved) {
      if (!s.used && s.bytes.size() > 24) notes.push_back("step " + name + " is gone: its saved state was dropped");
    }
    arrival_ = arrival;
    marks_ = std::move(marks);
    return notes;
  }

  Status subscribe_records(const std::string& name, bool, std::function<void(std::string)> sink) override {
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      if (sink_name(i) == name &&
          (p_.steps[i].kind == Step::Kind::kSinkStream || p_.steps[i].kind == Step::Kind::kSinkDelivery)) {
        steps_[i].sinks.push_back(std::move(sink));
        return {};
      }
    }
    return make_error(Errc::kInvalidApplicationConfiguration, "the job has no sink " + name);
  }

  void subscribe_errors(std::function<void(std::string)> sink) override { errors_.push_back(std::move(sink)); }

  static std::string sink_name(size_t step) { return "sink_" + std::to_string(step); }

 private:
  struct Mark {
    TimestampMs max_ts = 0;
    bool seen = false;
  };
  struct WindowBucket {
    std::vector<std::string> order;  // keys in first-seen order: the order results are emitted in
    std::unordered_map<std::string, Acc> accs;
  };
  struct Session {
    TimestampMs start, end;
    uint64_t seq;
    Acc acc;
  };
  struct StepState {
    std::string name, shape;
    std::unordered_map<std::string, Acc> keyed;                           // rolling aggregations and reduce
    std::unordered_map<std::string, Element> keyed_state;                 // keyed process functions
    std::map<std::pair<TimestampMs, TimestampMs>, WindowBucket> windows;  // by (end, start)
    std::map<std::string, std::vector<Session>> sessions;                 // by key
    uint64_t session_seq = 0;
    TimestampMs watermark = INT64_MIN;
    std::vector<std::function<void(std::string)>> sinks;
  };

  bool stateful(const StepState& s) const {
    return !s.keyed.empty() || !s.keyed_state.empty() || !s.windows.empty() || !s.sessions.empty();
  }

  void error(const char* name, const std::string& message, const std::string& data, int64_t origin) {
    nlohmann::json row = {
        {"ERROR_LEVEL", "ERROR"}, {"ERROR_NAME", name}, {"MESSAGE", message}, {"DATA", data}, {"ORIGIN", origin}};
    const std::string text = row.dump();
    for (auto& sink : errors_) sink(text);
  }

  // A record after the stateless steps (push_records): the elements that reach the first stateful
  // step, or the error that stopped one on the way, in the order one thread makes them.
  struct Prepared {
    struct Item {
      Element e;
      TimestampMs ts = 0;
      std::string key;
      std::optional<TimestampMs> watermark_candidate;  // from a timestamps step
      std::string error;                               // a step threw: "op_<i>_<kind>: what"
    };
    bool invalid = false;  // not JSON
    std::vector<Item> items;
  };

  // On worker `worker`'s thread: touches only `out` and that worker's copy of the steps.
  void prepare(size_t worker, const runtime::SourceRecord& r, Prepared& out) {
    out.items.clear();
    Element e = Element::parse(r.data, nullptr, false);
    out.invalid = e.is_discarded();
    if (!out.invalid) prepare_from(worker, 0, std::move(e), r.arrival, "", std::nullopt, out);
  }

  void prepare_from(size_t worker, size_t from, Element e, TimestampMs ts, std::string key,
                    std::optional<TimestampMs> candidate, Prepared& out) {
    const std::vector<Step>& steps = prefix_steps_[worker];
    for (size_t i = from; i < prefix_; ++i) {
      const Step& st = steps[i];
      try {
        switch (st.kind) {
          case Step::Kind::kMap:
            e = st.map(e);
            break;
          case Step::Kind::kFilter:
            if (!st.filter(e)) return;
            break;
          case Step::Kind::kFlatMap: {
            std::vector<Element> more;
            Emitter c(more);
            st.flat_map(e, c);
            for (auto& o : more) prepare_from(worker, i + 1, std::move(o), ts, key, candidate, out);
            return;
          }
          case Step::Kind::kTimestamps:
            ts = st.timestamp(e);
            candidate = std::max(candidate.value_or(INT64_MIN), ts - st.max_out_of_orderness_ms);
            break;
          case Step::Kind::kKeyBy:
            key = st.key(e);
            break;
          default:
            break;  // not in the prefix
        }
      } catch (const std::exception& ex) {
        out.items.push_back({std::move(e), ts, {}, std::nullopt, steps_[i].name + ": " + ex.what()});
        return;
      }
    }
    out.items.push_back({std::move(e), ts, std::move(key), candidate, {}});
  }

  // In record order: what push_record does after the stateless steps.
  void take_prepared(const runtime::SourceRecord& r, Prepared& p) {
    arrival_ = std::max(arrival_, r.arrival);
    shard_ = static_cast<uint32_t>(r.lane);
    if (p.invalid) {
      error("Invalid_Record", "the record is not JSON", std::string(r.data), r.origin);
    } else {
      origin_ = r.origin;
      for (auto& item : p.items) {
        if (!item.error.empty()) {
          error("Job_Error", item.error, item.e.dump(), origin_);
          continue;
        }
        if (item.watermark_candidate) mark(*item.watermark_candidate);
        run(prefix_, std::move(item.e), item.ts, std::move(item.key));
      }
    }
    advance_watermarks();
  }

  // A timestamps step saw an element of the current shard: its watermark candidate.
  void mark(TimestampMs candidate) {
    if (!declared_ && !marks_.count(shard_)) marks_[shard_] = Mark{};
    auto& m = marks_[shard_];
    m.max_ts = m.seen ? std::max(m.max_ts, candidate) : candidate;
    m.seen = true;
  }

  // Runs `e` (timestamp `ts`, key `key`) through the steps from `from` on.
  void run(size_t from, Element e, TimestampMs ts, std::string key) {
    for (size_t i = from; i < p_.steps.size(); ++i) {
      const Step& st = p_.steps[i];
      StepState& s = steps_[i];
      try {
        switch (st.kind) {
          case Step::Kind::kMap:
            e = st.map(e);
            break;
          case Step::Kind::kFilter:
            if (!st.filter(e)) return;
            break;
          case Step::Kind::kFlatMap: {
            std::vector<Element> out;
            Emitter c(out);
            st.flat_map(e, c);
            for (auto& o : out) run(i + 1, std::move(o), ts, key);
            return;
          }
          case Step::Kind::kTimestamps:
            ts = st.timestamp(e);
            mark(ts - st.max_out_of_orderness_ms);
            break;
          case Step::Kind::kKeyBy:
            key = st.key(e);
            break;
          case Step::Kind::kKeyedReduce: {
            auto [it, fresh] = s.keyed.try_emplace(key);
            it->second.best = fresh ? e : st.reduce(it->second.best, e);
            e = it->second.best;
            break;
          }
          case Step::Kind::kKeyedAggregate: {
            Acc& a = s.keyed[key];
            if (!add(st, a, e)) return;
            e = result(st, a);
            break;
          }
          case Step::Kind::kKeyedProcess: {
            std::vector<Element> out;
            Emitter c(out);
            st.keyed_process(key, e, s.keyed_state[key], c);
            for (auto& o : out) run(i + 1, std::move(o), ts, key);
            return;
          }
          case Step::Kind::kWindowAggregate:
          case Step::Kind::kWindowReduce:
          case Step::Kind::kWindowProcess:
            assign(i, e, st.window.event_time ? ts : arrival_, key);
            return;
          case Step::Kind::kSinkStream:
          case Step::Kind::kSinkDelivery: {
            const std::string record = st.format ? st.format(e) : e.dump();
            for (auto& sink : s.sinks) sink(record);
            break;
          }
        }
      } catch (const std::exception& ex) {
        error("Job_Error", s.name + ": " + ex.what(), e.dump(), origin_);
        return;
      }
    }
  }

  // Adds `e` to an aggregation; false (reported) if its field does not fit.
  bool add(const Step& st, Acc& a, const Element& e) {
    const std::string& agg = st.aggregate;
    if (a.count == 0) a.first = e;
    ++a.count;
    if (st.kind == Step::Kind::kWindowReduce) {
      a.best = a.count == 1 ? e : st.reduce(a.best, e);
      return true;
    }
    if (st.kind == Step::Kind::kWindowProcess) {
      a.elements.push_back(e);
      return true;
    }
    if (agg == "count") return true;
    auto f = e.find(st.field);
    if (f == e.end() || !f->is_number()) {
      --a.count;
      error("Job_Error", "field " + st.field + " of the element is not a number: " + agg + " skips it", e.dump(),
            origin_);
      return false;
    }
    if (agg == "sum" || agg == "avg") {
      if (f->is_number_integer() && a.integral)
        a.isum += f->get<int64_t>();
      else {
        if (a.integral) a.sum = static_cast<double>(a.isum);
        a.integral = false;
      }
      if (!a.integral) a.sum += f->get<double>();
    } else {
      const bool is_min = agg == "min" || agg == "min_by";
      const bool better = a.count == 1 || (is_min ? *f < a.extreme : *f > a.extreme);
      if (better) {
        a.extreme = *f;
        a.best = e;
      }
    }
    return true;
  }

  Element result(const Step& st, const Acc& a) const {
    const std::string& agg = st.aggregate;
    if (st.kind == Step::Kind::kWindowReduce || st.kind == Step::Kind::kKeyedReduce) return a.best;
    if (agg == "min_by" || agg == "max_by") return a.best;
    Element out = a.first;
    if (agg == "count")
      out["count"] = a.count;
    else if (agg == "sum")
      out[st.field] = a.integral ? Element(a.isum) : Element(a.sum);
    else if (agg == "avg")
      out[st.field] = (a.integral ? static_cast<double>(a.isum) : a.sum) / static_cast<double>(a.count);
    else
      out[st.field] = a.extreme;
    return out;
  }

  void assign(size_t i, const Element& e, TimestampMs ts, const std::string& key) {
    const Step& st = p_.steps[i];
    StepState& s = steps_[i];
    const auto& w = st.window;
    if (w.kind == WindowSpec::Kind::kSession) {
      if (ts + w.size_ms - 1 <= s.watermark) return late(s, e, ts);
      auto& list = s.sessions[key];
      Session merged{ts, ts + w.size_ms, s.session_seq++, {}};
      std::vector<Element> in_order;
      // Sessions that overlap the new one merge with it (their elements first, in arrival order).
      std::vector<Session> keep;
      std::vector<Session> merging;
      for (auto& x : list) {
        if (x.start <= merged.end && merged.start <= x.end)
          merging.push_back(std::move(x));
        else
          keep.push_back(std::move(x));
      }
      std::sort(merging.begin(), merging.end(), [](const Session& a, const Session& b) { return a.seq < b.seq; });
      for (auto& x : merging) {
        merged.start = std::min(merged.start, x.start);
        merged.end = std::max(merged.end, x.end);
        merged.seq = std::min(merged.seq, x.seq);
        if (merged.acc.count == 0)
          merged.acc = std::move(x.acc);
        else
          merge(st, merged.acc, x.acc);
      }
      if (!add(st, merged.acc, e)) return;
      keep.push_back(std::move(merged));
      list = std::move(keep);
      return;
    }
    const int64_t slide = w.kind == WindowSpec::Kind::kSliding ? w.slide_ms : w.size_ms;
    const TimestampMs last = floor_div(ts, slide) * slide;
    bool any = false, was_late = false;
    for (TimestampMs start = last; start > ts - w.size_ms; start -= slide) {
      const TimestampMs end = start + w.size_ms;
      if (end - 1 <= s.watermark) {
        was_late = true;
        continue;
      }
      auto& bucket = s.windows[{end, start}];
      auto [it, fresh] = bucket.accs.try_emplace(key);
      if (fresh) bucket.order.push_back(key);
      if (!add(st, it->second, e)) return;
      any = true;
    }
    if (was_late && !any) late(s, e, ts);
  }

  // Combines `later` into `a` (sessions merging): counts and sums add, extremes compare, the
  // elements and reduce values follow in order.
  void merge(const Step& st, Acc& a, const Acc& later) {
    if (st.kind == Step::Kind::kWindowProcess) {
      a.elements.insert(a.elements.end(), later.elements.begin(), later.elements.end());
      a.count += later.count;
      return;
    }
    if (st.kind == Step::Kind::kWindowReduce) {
      a.best = st.reduce(a.best, later.best);
      a.count += later.count;
      return;
    }
    const std::string& agg = st.aggregate;
    if (agg == "sum" || agg == "avg") {
      if (a.integral && later.integral) {
        a.isum += later.isum;
      } else {
        a.sum = (a.integral ? static_cast<double>(a.isum) : a.sum) +
                (later.integral ? static_cast<double>(later.isum) : later.sum);
        a.integral = false;
      }
    } else if (agg != "count" && later.count > 0) {
      const bool is_min = agg == "min" || agg == "min_by";
      if (a.count == 0 || (is_min ? later.extreme < a.extreme : later.extreme > a.extreme)) {
        a.extreme = later.extreme;
        a.best = later.best;
      }
    }
    a.count += later.count;
  }

  void late(StepState& s, const Element& e, TimestampMs ts) {
    error("Late_Element",
          s.name + ": event time " + std::to_string(ts) + " ms arrived after the watermark (" +
              std::to_string(s.watermark) + " ms) had closed its windows; dropped",
          e.dump(), origin_);
  }

  // The event-time watermark: the minimum over the source shards of their largest timestamp
  // minus the allowed out-of-orderness (a declared shard holds it until its first element).
  std::optional<TimestampMs> event_watermark() const {
    if (flushing_) return INT64_MAX;
    std::optional<TimestampMs> low;
    for (const auto& [_, m] : marks_) {
      if (!m.seen) return std::nullopt;
      low = low ? std::min(*low, m.max_ts) : m.max_ts;
    }
    return low;
  }

  // Each window step's watermark moves up in step order, so a window's results reach the
  // windows after it before their watermark passes them.
  void advance_watermarks() {
    const auto event = event_watermark();
    const TimestampMs processing = flushing_ ? INT64_MAX : arrival_;
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      const Step& st = p_.steps[i];
      if (!is_window(st.kind)) continue;
      std::optional<TimestampMs> wm = st.window.event_time ? event : std::optional<TimestampMs>(processing);
      // Processing time: a window closes when arrival time passes its end (its last ms is end - 1).
      if (wm && !st.window.event_time && !flushing_) *wm -= 1;
      if (!wm || *wm <= steps_[i].watermark) continue;
      steps_[i].watermark = *wm;
      fire(i);
    }
  }

  void fire(size_t i) {
    const Step& st = p_.steps[i];
    StepState& s = steps_[i];
    const TimestampMs wm = s.watermark;
    if (st.window.kind == WindowSpec::Kind::kSession) {
      struct Due {
        std::string key;
        Session session;
      };
      std::vector<Due> due;
      for (auto it = s.sessions.begin(); it != s.sessions.end();) {
        auto& list = it->second;
        for (auto x = list.begin(); x != list.end();) {
          if (x->end - 1 <= wm) {
            due.push_back({it->first, std::move(*x)});
            x = list.erase(x);
          } else {
            ++x;
          }
        }
        it = list.empty() ? s.sessions.erase(it) : std::next(it);
      }
      std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
        return std::tie(a.session.end, a.session.start, a.session.seq) <
               std::tie(b.session.end, b.session.start, b.session.seq);
      });
      for (auto& d : due) emit(i, d.key, Window{d.session.start, d.session.end}, d.session.acc);
      return;
    }
    while (!s.windows.empty() && s.windows.begin()->first.first - 1 <= wm) {
      auto node = s.windows.extract(s.windows.begin());
      const Window w{node.key().second, node.key().first};
      for (const auto& key : node.mapped().order) emit(i, key, w, node.mapped().accs.at(key));
    }
  }

  void emit(size_t i, const std::string& key, const Window& w, const Acc& a) {
    const Step& st = p_.steps[i];
    try {
      if (st.kind == Step::Kind::kWindowProcess) {
        std::vector<Element> out;
        Emitter c(out);
        st.window_process(key, w, a.elements, c);
        for (auto& o : out) run(i + 1, std::move(o), w.end - 1, key);
        return;
      }
      Element out = result(st, a);
      if (out.is_object()) {
        out["window_start"] = w.start;
        out["window_end"] = w.end;
      }
      run(i + 1, std::move(out), w.end - 1, key);
    } catch (const std::exception& ex) {
      error("Job_Error", steps_[i].name + ": " + ex.what(), key, origin_);
    }
  }

  void save_step(const StepState& s, StateWriter& w) const {
    auto save_map = [&w](const auto& m) {
      std::vector<std::string> keys;
      for (const auto& [k, _] : m) keys.push_back(k);
      std::sort(keys.begin(), keys.end());  // the bytes do not depend on hash order
      w.u64(keys.size());
      for (const auto& k : keys) {
        w.str(k);
        if constexpr (std::is_same_v<std::decay_t<decltype(m.at(k))>, Acc>)
          m.at(k).save(w);
        else
          w.str(m.at(k).dump());
      }
    };
    save_map(s.keyed);
    save_map(s.keyed_state);
    w.u64(s.windows.size());
    for (const auto& [span, bucket] : s.windows) {
      w.i64(span.first);
      w.i64(span.second);
      w.u64(bucket.order.size());
      for (const auto& key : bucket.order) {
        w.str(key);
        bucket.accs.at(key).save(w);
      }
    }
    w.u64(s.sessions.size());
    for (const auto& [key, list] : s.sessions) {
      w.str(key);
      w.u64(list.size());
      for (const auto& x : list) {
        w.i64(x.start);
        w.i64(x.end);
        w.u64(x.seq);
        x.acc.save(w);
      }
    }
    w.u64(s.session_seq);
    w.i64(s.watermark);
  }

  void load_step(StepState& s, StateReader& r) {
    s.keyed.clear();
    s.keyed_state.clear();
    s.windows.clear();
    s.sessions.clear();
    size_t n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      auto key = r.str();
      s.keyed[key].load(r);
    }
    n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      auto key = r.str();
      Element e = Element::parse(r.str(), nullptr, false);
      if (e.is_discarded()) r.fail();
      s.keyed_state[key] = std::move(e);
    }
    n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      const TimestampMs end = r.i64(), start = r.i64();
      auto& bucket = s.windows[{end, start}];
      const size_t keys = r.count();
      for (size_t k = 0; k < keys && r.ok(); ++k) {
        auto key = r.str();
        bucket.order.push_back(key);
        bucket.accs[key].load(r);
      }
    }
    n = r.count();
    for (size_t i = 0; i < n && r.ok(); ++i) {
      auto& list = s.sessions[r.str()];
      list.resize(r.count());
      for (auto& x : list) {
        x.start = r.i64();
        x.end = r.i64();
        x.seq = r.u64();
        x.acc.load(r);
      }
    }
    s.session_seq = r.u64();
    s.watermark = r.i64();
  }

  std::shared_ptr<void> library_;  // first member: the code of the steps' functions lives there
  Pipeline p_;
  std::vector<StepState> steps_;
  std::map<uint32_t, Mark> marks_;
  bool declared_ = false;
  bool flushing_ = false;
  TimestampMs arrival_ = INT64_MIN;
  uint32_t shard_ = 0;
  int64_t origin_ = 0;
  std::vector<std::function<void(std::string)>> errors_;
  size_t prefix_ = 0;                            // the steps before the first stateful one
  std::vector<std::vector<Step>> prefix_steps_;  // per pool thread: its copy of those steps
  std::vector<Prepared> prepared_;               // push_records' records, kept for their storage
};

}  // namespace

Result<LoadedJob> make_job(const Pipeline& pipeline, std::shared_ptr<void> library) {
  if (pipeline.source.empty())
    return make_error(Errc::kInvalidArgument, "the job reads no stream: call env.from_stream(...)");
  if (pipeline.sinks.empty())
    return make_error(Errc::kInvalidArgument,
                      "the job writes nowhere: end it with sink_to_stream or sink_to_delivery_stream");
  bool timestamps = false;
  for (size_t i = 0; i < pipeline.steps.size(); ++i) {
    const Step& st = pipeline.steps[i];
    if (st.kind == Step::Kind::kTimestamps) timestamps = true;
    if (is_window(st.kind)) {
      if (st.window.event_time && !timestamps) {
        return make_error(Errc::kInvalidArgument,
                          "step " + std::to_string(i) + ": an event-time window needs assign_timestamps before it");
      }
      if (st.window.size_ms <= 0 || (st.window.kind == WindowSpec::Kind::kSliding && st.window.slide_ms <= 0)) {
        return make_error(Errc::kInvalidArgument,
                          "step " + std::to_string(i) + ": window size and slide must be positive");
      }
    }
    if (st.kind == Step::Kind::kWindowAggregate || st.kind == Step::Kind::kKeyedAggregate) {
      static const char* kKinds[] = {"sum", "min", "max", "min_by", "max_by", "count", "avg"};
      if (std::find(std::begin(kKinds), std::end(kKinds), st.aggregate) == std::end(kKinds)) {
        return make_error(Errc::kInvalidArgument,
                          "step " + std::to_string(i) + ": unknown aggregation " + st.aggregate);
      }
    }
  }
  LoadedJob job;
  job.source = pipeline.source;
  job.start = pipeline.start;
  for (size_t i : pipeline.sinks) {
    const Step& st = pipeline.steps[i];
    job.sinks.push_back({JobProgram::sink_name(i), st.target, st.kind == Step::Kind::kSinkDelivery});
  }
  job.program = std::make_unique<JobProgram>(std::move(library), pipeline);
  return job;
}

Result<LoadedJob> load_job(const std::filesystem::path& library, const Properties& properties) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return make_error(Errc::kInvalidArgument,
                      "cannot load job library " + library.string() + ": " + (why ? why : "unknown error"));
  }
  std::shared_ptr<void> lib(handle, [](void* h) { dlclose(h); });
  using Entry = void (*)(Environment&);
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "eddy_job_main"));
  if (!entry) {
    return make_error(Errc::kInvalidArgument,
                      library.filename().string() + " is not an eddy job: it has no EDDY_JOB(env) entry point");
  }
  Environment env(properties);
  try {
    entry(env);
  } catch (const std::exception& e) {
    return make_error(Errc::kInvalidArgument, "the job's entry point failed: " + std::string(e.what()));
  }
  return make_job(env.pipeline(), std::move(lib));
}

}  // namespace eddy::job
