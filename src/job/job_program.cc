#include "job/job_program.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <span>

#include "common/json_limits.h"
#include "common/worker_pool.h"
#include "job/key_group.h"
#include "runtime/batch_turns.h"
#include "runtime/state_codec.h"

namespace eddy::job {

namespace {

using runtime::StateReader;
using runtime::StateWriter;

constexpr std::string_view kStateMagic = "eddy-job-state-2";
constexpr std::string_view kOldStateMagic = "eddy-job-state-1";  // before key groups

using detail::Event;
using detail::Input;
using detail::KeyGroup;
using detail::Output;
using detail::Tag;

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

class Emitter final : public Collector {
 public:
  explicit Emitter(std::vector<Element>& out) : out_(out) {}
  void collect(Element e) override { out_.push_back(std::move(e)); }

 private:
  std::vector<Element>& out_;
};

std::string error_row(const char* name, const std::string& message, const std::string& data, int64_t origin) {
  nlohmann::json row = {
      {"ERROR_LEVEL", "ERROR"}, {"ERROR_NAME", name}, {"MESSAGE", message}, {"DATA", data}, {"ORIGIN", origin}};
  return row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Runs a job's pipeline. The steps before the first stateful one (map, filter, flat_map,
// timestamps, key_by) are stateless: push_records runs them on the pool's threads. The rest runs
// in key groups (key_group.h): 128 of them, split over the pool's threads, when a key_by comes
// before the first stateful step and no key_by or timestamps step after it — else in one group,
// on the calling thread. Either way the outputs are those of one thread taking the records one by
// one, in the same order, whatever the number of threads.
class JobProgram final : public runtime::Program {
 public:
  JobProgram(std::shared_ptr<void> library, Pipeline pipeline, bool key_groups)
      : library_(std::move(library)), p_(std::move(pipeline)), sinks_(p_.steps.size()) {
    using K = Step::Kind;
    while (prefix_ < p_.steps.size() &&
           (p_.steps[prefix_].kind == K::kMap || p_.steps[prefix_].kind == K::kFilter ||
            p_.steps[prefix_].kind == K::kFlatMap || p_.steps[prefix_].kind == K::kTimestamps ||
            p_.steps[prefix_].kind == K::kKeyBy)) {
      ++prefix_;
    }
    shape_.pipeline = &p_;
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      const auto& st = p_.steps[i];
      shape_.names.push_back("op_" + std::to_string(i) + "_" + kind_name(st.kind));
      std::string shape = std::string(kind_name(st.kind)) + " " + st.aggregate + " " + st.field;
      if (is_window(st.kind)) {
        shape += " window " + std::to_string(static_cast<int>(st.window.kind)) +
                 (st.window.event_time ? " event " : " processing ") + std::to_string(st.window.size_ms) + " " +
                 std::to_string(st.window.slide_ms);
        shape_.windows.push_back(i);
      }
      shapes_.push_back(std::move(shape));
    }
    plan_stages(key_groups);
    if (partitioned_) {
      for (size_t i = prefix_; i < p_.steps.size(); ++i)
        shapes_[i] += "; key groups " + std::to_string(detail::kKeyGroups);
    }
    wm_.assign(shape_.windows.size(), INT64_MIN);
    groups_.assign(partitioned_ ? detail::kKeyGroups : 1, KeyGroup(p_.steps.size(), shape_.stages.size()));
    mark_ = [this](TimestampMs candidate) { mark(candidate); };
  }

  void push_record(size_t, std::string_view record, TimestampMs arrival, int64_t origin, size_t lane) override {
    const runtime::SourceRecord r{record, arrival, origin, lane};
    Prepared p;
    prepare(0, r, p);
    take(r, p);
    finish(nullptr);
  }

  // The same for several records, with the stateless steps run on `pool`'s threads, each with
  // its own copy of their functions (as each of Flink's subtasks has its own instance), and the
  // key groups on them too; the stateful steps of a group take its elements in record order.
  void push_records(size_t, std::span<const runtime::SourceRecord> records, WorkerPool& pool) override {
    if (prepared_.size() < records.size()) prepared_.resize(records.size());
    if (pool.size() > 1 && records.size() > 1 && prefix_ > 0) {
      copy_functions(pool.size());
      std::atomic<size_t> next{0};
      pool.run(pool.size(), [&](size_t worker) {
        constexpr size_t kChunk = 64;
        for (size_t from = next.fetch_add(kChunk); from < records.size(); from = next.fetch_add(kChunk)) {
          for (size_t i = from; i < std::min(records.size(), from + kChunk); ++i)
            prepare(worker, records[i], prepared_[i]);
        }
      });
    } else {
      for (size_t i = 0; i < records.size(); ++i) prepare(0, records[i], prepared_[i]);
    }
    for (size_t i = 0; i < records.size(); ++i) take(records[i], prepared_[i]);
    finish(&pool);
  }

  // Several batches, as Application::push_batches takes them: each thread takes the next batch,
  // parses it and runs the stateless steps on its own copy of the functions, and in the batch's
  // turn (batches in claim order) takes its elements, runs the key groups and delivers, on that
  // thread. A batch's elements are made and freed on one thread. (push_records hands them to the
  // other core for their key groups, which at 2 threads cost more than the second thread gave:
  // 0.88x of one thread for the trades job.) The stateful steps call the first copy of the
  // functions, in turns only (no other thread calls those steps of it), as one thread would.
  void push_batches(size_t input, WorkerPool& pool, const runtime::BatchSource& source) override {
    const size_t threads = pool.size();
    if (threads == 1) return Program::push_batches(input, pool, source);
    copy_functions(threads);
    while (slots_.size() < threads) slots_.push_back(std::make_unique<Slot>());
    runtime::take_turns(
        pool, source,
        [&](size_t k) {
          Slot& slot = *slots_[k];
          slot.records.clear();
          source.fill(k, slot.records);
          if (slot.prepared.size() < slot.records.size()) slot.prepared.resize(slot.records.size());
          for (size_t i = 0; i < slot.records.size(); ++i) prepare(k, slot.records[i], slot.prepared[i]);
        },
        [&](size_t k) {
          Slot& slot = *slots_[k];
          if (source.before) source.before(k, slot.records);
          for (size_t i = 0; i < slot.records.size(); ++i) take(slot.records[i], slot.prepared[i]);
          finish(nullptr);
          return source.done(k, slot.records, slot.records.size());
        });
  }

  void advance_time(TimestampMs t) override {
    arrival_ = std::max(arrival_, t);
    note_event(++seq_);
    finish(nullptr);
  }

  void flush() override {
    flushing_ = true;
    note_event(++seq_);
    finish(nullptr);
  }

  void set_source_shards(size_t, const std::vector<uint32_t>& shards) override {
    std::map<uint32_t, Mark> next;
    for (uint32_t s : shards) {
      auto it = marks_.find(s);
      next[s] = it == marks_.end() ? Mark{} : it->second;
    }
    marks_ = std::move(next);
    declared_ = true;
    note_event(++seq_);
    finish(nullptr);
  }

  // The least watermark of its window steps; a job without windows is complete up to the latest
  // arrival time it has seen.
  std::optional<TimestampMs> watermark() const override {
    if (wm_.empty()) {
      if (arrival_ == INT64_MIN) return std::nullopt;
      return arrival_;
    }
    const TimestampMs least = *std::min_element(wm_.begin(), wm_.end());
    if (least == INT64_MIN) return std::nullopt;
    return least;
  }

  std::string save_state() const override {
    StateWriter w;
    w.str(kStateMagic);
    w.i64(seq_);
    w.i64(arrival_);
    w.u64(marks_.size());
    for (const auto& [shard, m] : marks_) {
      w.u64(shard);
      w.i64(m.max_ts);
      w.boolean(m.seen);
    }
    w.u64(p_.steps.size());
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      StateWriter own;
      own.i64(step_watermark(i));
      own.u64(groups_.size());
      for (const auto& g : groups_) g.steps[i].save(own);
      w.str(shape_.names[i]);
      w.str(shapes_[i]);
      w.str(own.bytes());
    }
    return w.take();
  }

  Result<std::vector<std::string>> load_state(std::string_view bytes) override {
    StateReader r(bytes);
    const std::string magic = r.str();
    if (magic == kOldStateMagic && r.ok()) {
      return std::vector<std::string>{
          "the checkpoint was written by an older eddy in a format this one does not read: the job starts with no "
          "window or keyed state"};
    }
    if (magic != kStateMagic || !r.ok()) return make_error(Errc::kInvalidArgument, "not a job state");
    const int64_t seq = r.i64();
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
    std::vector<KeyGroup> groups(groups_.size(), KeyGroup(p_.steps.size(), shape_.stages.size()));
    std::vector<TimestampMs> wm(wm_.size(), INT64_MIN);
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      const std::string& name = shape_.names[i];
      auto it = saved.find(name);
      if (it == saved.end()) {
        if (stateful(i)) notes.push_back("step " + name + " is new: it starts with no state");
        continue;
      }
      it->second.used = true;
      if (it->second.shape != shapes_[i]) {
        notes.push_back("step " + name + " changed (" + it->second.shape + " -> " + shapes_[i] +
                        "): its saved state was dropped");
        continue;
      }
      StateReader sr(it->second.bytes);
      const TimestampMs step_wm = sr.i64();
      if (sr.count() != groups.size()) sr.fail();
      for (auto& g : groups) {
        if (!sr.ok()) break;
        g.steps[i].load(sr);
        g.steps[i].watermark = step_wm;
      }
      if (!sr.done()) return make_error(Errc::kInvalidArgument, "the saved state of step " + name + " is corrupt");
      auto k = std::find(shape_.windows.begin(), shape_.windows.end(), i);
      if (k != shape_.windows.end()) wm[static_cast<size_t>(k - shape_.windows.begin())] = step_wm;
    }
    for (const auto& [name, s] : saved) {
      if (!s.used && s.bytes.size() > 24) notes.push_back("step " + name + " is gone: its saved state was dropped");
    }
    seq_ = seq;
    arrival_ = arrival;
    marks_ = std::move(marks);
    groups_ = std::move(groups);
    wm_ = std::move(wm);
    return notes;
  }

  Status subscribe_records(const std::string& name, bool, std::function<void(std::string)> sink) override {
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      if (sink_name(i) == name &&
          (p_.steps[i].kind == Step::Kind::kSinkStream || p_.steps[i].kind == Step::Kind::kSinkDelivery)) {
        sinks_[i].push_back(std::move(sink));
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

  // Key groups (a stage per key_by from the first stateful step on) unless a timestamps step comes
  // after the first stateful one (its watermark would depend on the groups' order) or a stage has
  // two windows (a pipeline built by hand: key_by gives each window its own); else one stage.
  void plan_stages(bool key_groups) {
    bool split = key_groups;
    for (size_t i = prefix_; i < p_.steps.size(); ++i) split = split && p_.steps[i].kind != Step::Kind::kTimestamps;
    auto windows_in = [this](size_t from, size_t to) {
      std::vector<size_t> ks;
      for (size_t k = 0; k < shape_.windows.size(); ++k) {
        if (shape_.windows[k] >= from && shape_.windows[k] < to) ks.push_back(k);
      }
      return ks;
    };
    if (split) {
      size_t from = prefix_;
      for (size_t i = prefix_; i <= p_.steps.size(); ++i) {
        if (i < p_.steps.size() && p_.steps[i].kind != Step::Kind::kKeyBy) continue;
        shape_.stages.push_back({from, i, windows_in(from, i)});
        split = split && shape_.stages.back().windows.size() <= 1;
        from = i + 1;
      }
    }
    if (!split) shape_.stages = {{prefix_, p_.steps.size(), windows_in(prefix_, p_.steps.size())}};
    partitioned_ = split;
  }

  bool stateful(size_t step) const {
    return std::any_of(groups_.begin(), groups_.end(), [step](const KeyGroup& g) { return !g.steps[step].empty(); });
  }

  TimestampMs step_watermark(size_t step) const {
    auto k = std::find(shape_.windows.begin(), shape_.windows.end(), step);
    return k == shape_.windows.end() ? INT64_MIN : wm_[static_cast<size_t>(k - shape_.windows.begin())];
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

  // Worker 0 (the calling thread) calls the pipeline's own functions; the others their copies.
  const std::vector<Step>& functions(size_t worker) const { return worker == 0 ? p_.steps : copies_[worker - 1]; }

  void copy_functions(size_t threads) {
    while (copies_.size() + 1 < threads) copies_.push_back(p_.steps);
  }

  // On worker `worker`'s thread: touches only `out` and that worker's copy of the steps.
  void prepare(size_t worker, const runtime::SourceRecord& r, Prepared& out) {
    out.items.clear();
    Element e =
        json_nesting_within(r.data) ? Element::parse(r.data, nullptr, false) : Element(Element::value_t::discarded);
    out.invalid = e.is_discarded();
    if (!out.invalid) prepare_from(worker, 0, std::move(e), r.arrival, "", std::nullopt, out);
  }

  void prepare_from(size_t worker, size_t from, Element e, TimestampMs ts, std::string key,
                    std::optional<TimestampMs> candidate, Prepared& out) {
    const std::vector<Step>& steps = functions(worker);
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
        out.items.push_back({std::move(e), ts, {}, std::nullopt, shape_.names[i] + ": " + ex.what()});
        return;
      } catch (...) {
        out.items.push_back({std::move(e),
                             ts,
                             {},
                             std::nullopt,
                             shape_.names[i] + ": it threw something that is not a std::exception"});
        return;
      }
    }
    out.items.push_back({std::move(e), ts, std::move(key), candidate, {}});
  }

  size_t group_of(const std::string& key) const {
    static_assert(sizeof(size_t) == 8 && detail::kKeyGroups == 128);
    return partitioned_ ? std::hash<std::string>{}(key) >> 57 : 0;
  }

  // In record order, on the calling thread: errors, watermark candidates, and the elements handed
  // to their key groups. One group (not partitioned) runs them at once, as its timestamps steps
  // may move the watermark.
  void take(const runtime::SourceRecord& r, Prepared& p) {
    arrival_ = std::max(arrival_, r.arrival);
    shard_ = static_cast<uint32_t>(r.lane);
    const int64_t seq = ++seq_;
    if (p.invalid) {
      serial_out_.push_back(
          {{seq, 0, 0},
           detail::kErrorTarget,
           error_row("Invalid_Record",
                     "the record is not JSON (or nests deeper than " + std::to_string(kMaxJsonNesting) + " levels)",
                     std::string(r.data), r.origin)});
    } else {
      origin_ = r.origin;
      for (size_t i = 0; i < p.items.size(); ++i) {
        auto& item = p.items[i];
        if (!item.error.empty()) {
          serial_out_.push_back({{seq, 0, static_cast<int64_t>(i)},
                                 detail::kErrorTarget,
                                 error_row("Job_Error", item.error,
                                           item.e.dump(-1, ' ', false, Element::error_handler_t::replace), origin_)});
          continue;
        }
        if (item.watermark_candidate) mark(*item.watermark_candidate);
        groups_[group_of(item.key)].pending[0].push_back(
            {{seq, 0, static_cast<int64_t>(i)}, std::move(item.e), item.ts, arrival_, std::move(item.key), origin_});
      }
      if (!partitioned_) run(0, 0, 0);
    }
    note_event(seq);
  }

  // A timestamps step saw an element of the current shard: its watermark candidate.
  void mark(TimestampMs candidate) {
    if (!declared_ && !marks_.count(shard_)) marks_[shard_] = Mark{};
    auto& m = marks_[shard_];
    m.max_ts = m.seen ? std::max(m.max_ts, candidate) : candidate;
    m.seen = true;
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

  // After record `seq` (or at a new `seq` when time passes): if a window step's watermark moved,
  // an event for the groups.
  void note_event(int64_t seq) {
    const auto event = event_watermark();
    const TimestampMs processing = flushing_ ? INT64_MAX : arrival_;
    decltype(detail::Event::wm) next(wm_.begin(), wm_.end());
    bool moved = false;
    for (size_t k = 0; k < shape_.windows.size(); ++k) {
      const Step& st = p_.steps[shape_.windows[k]];
      std::optional<TimestampMs> wm = st.window.event_time ? event : std::optional<TimestampMs>(processing);
      // Processing time: a window closes when arrival time passes its end (its last ms is end - 1).
      if (wm && !st.window.event_time && !flushing_) *wm -= 1;
      if (!wm || *wm <= next[k]) continue;
      next[k] = *wm;
      moved = true;
    }
    if (!moved) return;
    if (events_.empty()) base_ = wm_;
    wm_.assign(next.begin(), next.end());
    events_.push_back({seq, origin_, arrival_, std::move(next)});
    if (!partitioned_) {
      run(0, 0, 0);
      events_.clear();
    }
  }

  // Runs stage `stage` of group `g` on worker `worker`'s copy of the functions.
  void run(size_t stage, size_t g, size_t worker) {
    detail::run_group(groups_[g], shape_, stage, functions(worker), events_.empty() ? wm_ : base_, events_, mark_);
  }

  // The end of a call: the groups take what is pending (on the pool's threads if there is one),
  // and the outputs go out in the order of one thread.
  void finish(WorkerPool* pool) {
    const size_t threads = pool ? pool->size() : 1;
    if (partitioned_ && threads > 1) copy_functions(threads);
    for (size_t stage = 0; partitioned_ && stage < shape_.stages.size(); ++stage) {
      if (stage > 0) route_forward(stage);
      auto busy = [&](size_t g) {
        if (!groups_[g].pending[stage].empty()) return true;
        if (events_.empty()) return false;
        return std::any_of(shape_.stages[stage].windows.begin(), shape_.stages[stage].windows.end(), [&](size_t k) {
          const auto& s = groups_[g].steps[shape_.windows[k]];
          return !s.windows.empty() || !s.sessions.empty();
        });
      };
      if (threads > 1) {
        // A thread takes the next busy group when it is free: with few keys (the trades' five
        // tickers) a fixed g % N split can leave one thread most of the work.
        busy_.clear();
        for (size_t g = 0; g < groups_.size(); ++g) {
          if (busy(g)) busy_.push_back(g);
        }
        std::atomic<size_t> next{0};
        pool->run(std::min(threads, busy_.size()), [&](size_t worker) {
          for (size_t i = next.fetch_add(1); i < busy_.size(); i = next.fetch_add(1)) run(stage, busy_[i], worker);
        });
      } else {
        for (size_t g = 0; g < groups_.size(); ++g) {
          if (busy(g)) run(stage, g, 0);
        }
      }
    }
    events_.clear();
    deliver();
  }

  // The elements the groups sent to the next key_by, in Tag order, to their new key's group.
  void route_forward(size_t stage) {
    std::vector<Input> all;
    for (auto& g : groups_) {
      std::move(g.forward.begin(), g.forward.end(), std::back_inserter(all));
      g.forward.clear();
    }
    std::sort(all.begin(), all.end(), [](const Input& a, const Input& b) { return a.tag < b.tag; });
    for (auto& in : all) groups_[group_of(in.key)].pending[stage].push_back(std::move(in));
  }

  void deliver() {
    std::vector<std::vector<Output>*> sources;
    if (!serial_out_.empty()) sources.push_back(&serial_out_);
    for (auto& g : groups_) {
      if (!g.out.empty()) sources.push_back(&g.out);
    }
    if (sources.empty()) return;
    std::vector<Output> merged;
    if (sources.size() == 1) {
      merged.swap(*sources[0]);
    } else {
      for (auto* s : sources) {
        std::move(s->begin(), s->end(), std::back_inserter(merged));
        s->clear();
      }
    }
    // A group makes its outputs stage by stage, so even one group's are not in Tag order; two
    // groups never make the same Tag, and a stable sort keeps one element's outputs in the order
    // it made them.
    std::stable_sort(merged.begin(), merged.end(), [](const Output& a, const Output& b) { return a.tag < b.tag; });
    for (const auto& o : merged) {
      for (auto& sink : o.target == detail::kErrorTarget ? errors_ : sinks_[static_cast<size_t>(o.target)])
        sink(o.text);
    }
  }

  std::shared_ptr<void> library_;  // first member: the code of the steps' functions lives there
  Pipeline p_;
  size_t prefix_ = 0;  // the steps before the first stateful one
  bool partitioned_ = false;
  detail::JobShape shape_;
  std::vector<std::string> shapes_;                                   // per step: what its saved state must match
  std::vector<std::vector<std::function<void(std::string)>>> sinks_;  // per sink step
  std::vector<std::function<void(std::string)>> errors_;
  std::vector<KeyGroup> groups_;
  std::function<void(TimestampMs)> mark_;
  std::map<uint32_t, Mark> marks_;
  bool declared_ = false;
  bool flushing_ = false;
  TimestampMs arrival_ = INT64_MIN;
  uint32_t shard_ = 0;
  int64_t origin_ = 0;
  int64_t seq_ = 0;                        // records and events so far: the first element of Tags
  std::vector<TimestampMs> wm_;            // per window step: its watermark
  std::vector<TimestampMs> base_;          // wm_ before the first of events_
  std::vector<Event> events_;              // since the groups last ran
  std::vector<Output> serial_out_;         // error rows of records and of the stateless steps
  std::vector<std::vector<Step>> copies_;  // per pool thread but the first: its copy of the functions
  std::vector<Prepared> prepared_;         // push_records' records, kept for their storage
  std::vector<size_t> busy_;               // finish(): the groups with work in the stage
  struct Slot {                            // push_batches: a thread's batch, kept for its storage
    std::vector<runtime::SourceRecord> records;
    std::vector<Prepared> prepared;
  };
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace

Result<LoadedJob> make_job(const Pipeline& pipeline, std::shared_ptr<void> library, bool key_groups) {
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
  job.program = std::make_unique<JobProgram>(std::move(library), pipeline, key_groups);
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
