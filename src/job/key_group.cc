#include "job/key_group.h"
#include "common/json_limits.h"

#include <algorithm>

namespace eddy::job::detail {

namespace {

using runtime::StateReader;
using runtime::StateWriter;

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

void save_tag(StateWriter& w, const Tag& t) {
  w.u64(t.size());
  for (int64_t v : t) w.i64(v);
}

Tag load_tag(StateReader& r) {
  Tag t(r.count());
  for (auto& v : t) v = r.i64();
  return t;
}

Element load_element(StateReader& r) {
  const auto text = r.str();
  Element e = json_nesting_within(text) ? Element::parse(text, nullptr, false) : Element(Element::value_t::discarded);
  if (e.is_discarded()) r.fail();
  return e;
}

// An element as error-row data: invalid UTF-8 a function put in a string is replaced, not thrown.
std::string data_of(const Element& e) {
  return e.dump(-1, ' ', false, Element::error_handler_t::replace);
}

class Emitter final : public Collector {
 public:
  explicit Emitter(std::vector<Element>& out) : out_(out) {}
  void collect(Element e) override { out_.push_back(std::move(e)); }

 private:
  std::vector<Element>& out_;
};

// One run of a group: the code of the steps from the first stateful one on, with the Tag of the
// element going through them.
class Runner {
 public:
  Runner(KeyGroup& g, const JobShape& shape, size_t stage, const std::vector<Step>& functions,
         const std::function<void(TimestampMs)>& mark)
      : g_(g), shape_(shape), stage_(shape.stages[stage]), steps_(functions), mark_(mark) {}

  void input(Input& in) {
    tag_ = std::move(in.tag);
    made_ = 0;
    origin_ = in.origin;
    arrival_ = in.arrival;
    run(stage_.from, std::move(in.e), in.ts, std::move(in.key));
  }

  // Brings the group to the end of the events that stand before `bound` (all if null), from
  // events[from] on; returns the index of the first event not taken. Events at which nothing of
  // this group is due only raise its watermarks.
  size_t catch_up(std::span<const Event> events, size_t from, const Tag* bound) {
    if (stage_.windows.empty()) return events.size();
    const auto first_window = static_cast<int64_t>(shape_.windows[stage_.windows.front()]);
    const size_t limit =
        !bound ? events.size()
               : static_cast<size_t>(
                     std::partition_point(events.begin() + static_cast<std::ptrdiff_t>(from), events.end(),
                                          [&](const Event& e) { return precedes(e.seq, first_window, *bound); }) -
                     events.begin());
    while (from < limit) {
      size_t next = limit;
      for (size_t k : stage_.windows) {
        const TimestampMs due = this->due(shape_.windows[k]);
        if (due == INT64_MAX) continue;
        auto at = std::partition_point(events.begin() + static_cast<std::ptrdiff_t>(from),
                                       events.begin() + static_cast<std::ptrdiff_t>(next),
                                       [&](const Event& e) { return e.wm[k] < due; });
        next = static_cast<size_t>(at - events.begin());
      }
      if (next > from) raise(events[next - 1]);
      if (next == limit) return limit;
      apply(events[next]);
      from = next + 1;
    }
    return from;
  }

 private:
  // Whether the part of event `seq` for window step `step`, at [seq, 1, step], stands before `tag`.
  static bool precedes(int64_t seq, int64_t step, const Tag& tag) {
    const int64_t at[3] = {seq, 1, step};
    return std::lexicographical_compare(at, at + 3, tag.begin(), tag.end());
  }

  // The least watermark at which a window of step `i` fires (INT64_MAX: none open).
  TimestampMs due(size_t i) const {
    const StepState& s = g_.steps[i];
    if (shape_.pipeline->steps[i].window.kind == WindowSpec::Kind::kSession)
      return s.sessions.empty() ? INT64_MAX : s.session_due;
    return s.windows.empty() ? INT64_MAX : s.windows.begin()->first.first - 1;
  }

  void raise(const Event& e) {
    for (size_t k : stage_.windows) {
      auto& wm = g_.steps[shape_.windows[k]].watermark;
      wm = std::max(wm, e.wm[k]);
    }
  }

  // The event as one thread takes it: each window step's watermark moves up in step order and its
  // due windows fire, so a window's results reach the windows after it before their watermark
  // passes them.
  void apply(const Event& e) {
    origin_ = e.origin;
    arrival_ = e.arrival;
    for (size_t k : stage_.windows) {
      const size_t i = shape_.windows[k];
      if (e.wm[k] <= g_.steps[i].watermark) continue;
      g_.steps[i].watermark = e.wm[k];
      fire(i, e.seq);
    }
  }

  void error(const char* name, const std::string& message, const std::string& data) {
    nlohmann::json row = {
        {"ERROR_LEVEL", "ERROR"}, {"ERROR_NAME", name}, {"MESSAGE", message}, {"DATA", data}, {"ORIGIN", origin_}};
    g_.out.push_back({made(), kErrorTarget, row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  }

  // The Tag of the next thing the current element makes.
  Tag made() {
    Tag t = tag_;
    t.push_back(made_++);
    return t;
  }

  // Runs `e` (timestamp `ts`, key `key`) through the steps from `from` on.
  void run(size_t from, Element e, TimestampMs ts, std::string key) {
    const auto& pipeline = shape_.pipeline->steps;
    for (size_t i = from; i < pipeline.size(); ++i) {
      const Step& st = steps_[i];
      StepState& s = g_.steps[i];
      try {
        if (i == stage_.to) {  // the next stage's key_by: the element moves to its key's group there
          std::string next_key = st.key(e);
          g_.forward.push_back({made(), std::move(e), ts, arrival_, std::move(next_key), origin_});
          return;
        }
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
            mark_(ts - st.max_out_of_orderness_ms);
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
          case Step::Kind::kSinkDelivery:
            g_.out.push_back({made(), static_cast<int>(i), st.format ? st.format(e) : data_of(e)});
            break;
        }
      } catch (const std::exception& ex) {
        error("Job_Error", shape_.names[i] + ": " + ex.what(), data_of(e));
        return;
      } catch (...) {
        error("Job_Error", shape_.names[i] + ": it threw something that is not a std::exception", data_of(e));
        return;
      }
    }
  }

  // Whether `e` can go into an aggregation of step `st`; if not, says why in an error row.
  bool fits(const Step& st, const Element& e) {
    if (st.kind != Step::Kind::kWindowAggregate && st.kind != Step::Kind::kKeyedAggregate) return true;
    if (st.aggregate == "count") return true;
    auto f = e.find(st.field);
    if (f != e.end() && f->is_number()) return true;
    error("Job_Error", "field " + st.field + " of the element is not a number: " + st.aggregate + " skips it",
          data_of(e));
    return false;
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
      return fits(st, e);  // reports it
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
    const Step& st = steps_[i];
    StepState& s = g_.steps[i];
    const auto& w = st.window;
    // Checked first, so an element that cannot be aggregated leaves no trace (no empty window,
    // no sessions merged by it).
    if (!fits(st, e)) return;
    if (w.kind == WindowSpec::Kind::kSession) {
      if (ts + w.size_ms - 1 <= s.watermark) return late(i, e, ts);
      auto& list = s.sessions[key];
      Session merged{ts, ts + w.size_ms, tag_, {}};
      // Sessions that overlap the new one merge with it (their elements first, in arrival order).
      std::vector<Session> keep;
      std::vector<Session> merging;
      for (auto& x : list) {
        if (x.start <= merged.end && merged.start <= x.end)
          merging.push_back(std::move(x));
        else
          keep.push_back(std::move(x));
      }
      std::sort(merging.begin(), merging.end(), [](const Session& a, const Session& b) { return a.first < b.first; });
      for (auto& x : merging) {
        merged.start = std::min(merged.start, x.start);
        merged.end = std::max(merged.end, x.end);
        merged.first = std::min(merged.first, x.first);
        if (merged.acc.count == 0)
          merged.acc = std::move(x.acc);
        else
          merge(st, merged.acc, x.acc);
      }
      add(st, merged.acc, e);
      s.session_due = std::min(s.session_due, merged.end - 1);
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
      if (fresh) bucket.order.push_back({key, tag_});
      add(st, it->second, e);
      any = true;
    }
    if (was_late && !any) late(i, e, ts);
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

  void late(size_t i, const Element& e, TimestampMs ts) {
    error("Late_Element",
          shape_.names[i] + ": event time " + std::to_string(ts) + " ms arrived after the watermark (" +
              std::to_string(g_.steps[i].watermark) + " ms) had closed its windows; dropped",
          data_of(e));
  }

  void fire(size_t i, int64_t seq) {
    StepState& s = g_.steps[i];
    const TimestampMs wm = s.watermark;
    if (shape_.pipeline->steps[i].window.kind == WindowSpec::Kind::kSession) {
      struct Due {
        std::string key;
        Session session;
      };
      std::vector<Due> due;
      s.session_due = INT64_MAX;
      for (auto it = s.sessions.begin(); it != s.sessions.end();) {
        auto& list = it->second;
        for (auto x = list.begin(); x != list.end();) {
          if (x->end - 1 <= wm) {
            due.push_back({it->first, std::move(*x)});
            x = list.erase(x);
          } else {
            s.session_due = std::min(s.session_due, x->end - 1);
            ++x;
          }
        }
        it = list.empty() ? s.sessions.erase(it) : std::next(it);
      }
      std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
        return std::tie(a.session.end, a.session.start, a.session.first) <
               std::tie(b.session.end, b.session.start, b.session.first);
      });
      for (auto& d : due) emit(i, seq, d.key, Window{d.session.start, d.session.end}, d.session.first, d.session.acc);
      return;
    }
    while (!s.windows.empty() && s.windows.begin()->first.first - 1 <= wm) {
      auto node = s.windows.extract(s.windows.begin());
      const Window w{node.key().second, node.key().first};
      for (const auto& entry : node.mapped().order)
        emit(i, seq, entry.key, w, entry.first, node.mapped().accs.at(entry.key));
    }
  }

  void emit(size_t i, int64_t seq, const std::string& key, const Window& w, const Tag& first, const Acc& a) {
    const Step& st = steps_[i];
    tag_ = {seq, 1, static_cast<int64_t>(i), w.end, w.start};
    tag_.insert(tag_.end(), first.begin(), first.end());
    made_ = 0;
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
      error("Job_Error", shape_.names[i] + ": " + ex.what(), key);
    } catch (...) {
      error("Job_Error", shape_.names[i] + ": it threw something that is not a std::exception", key);
    }
  }

  KeyGroup& g_;
  const JobShape& shape_;
  const Stage& stage_;
  const std::vector<Step>& steps_;
  const std::function<void(TimestampMs)>& mark_;
  Tag tag_;           // of the element going through
  int64_t made_ = 0;  // what it made so far
  int64_t origin_ = 0;
  TimestampMs arrival_ = 0;
};

}  // namespace

void Acc::save(StateWriter& w) const {
  w.str(data_of(first));
  w.str(data_of(best));
  w.str(data_of(extreme));
  w.f64(sum);
  w.i64(isum);
  w.boolean(integral);
  w.i64(count);
  w.u64(elements.size());
  for (const auto& e : elements) w.str(data_of(e));
}

void Acc::load(StateReader& r) {
  first = load_element(r);
  best = load_element(r);
  extreme = load_element(r);
  sum = r.f64();
  isum = r.i64();
  integral = r.boolean();
  count = r.i64();
  elements.resize(r.count());
  for (auto& e : elements) e = load_element(r);
}

void StepState::save(StateWriter& w) const {
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
        w.str(data_of(m.at(k)));
    }
  };
  save_map(keyed);
  save_map(keyed_state);
  w.u64(windows.size());
  for (const auto& [span, bucket] : windows) {
    w.i64(span.first);
    w.i64(span.second);
    w.u64(bucket.order.size());
    for (const auto& entry : bucket.order) {
      w.str(entry.key);
      save_tag(w, entry.first);
      bucket.accs.at(entry.key).save(w);
    }
  }
  w.u64(sessions.size());
  for (const auto& [key, list] : sessions) {
    w.str(key);
    w.u64(list.size());
    for (const auto& x : list) {
      w.i64(x.start);
      w.i64(x.end);
      save_tag(w, x.first);
      x.acc.save(w);
    }
  }
}

void StepState::load(StateReader& r) {
  *this = StepState{};
  size_t n = r.count();
  for (size_t i = 0; i < n && r.ok(); ++i) {
    auto key = r.str();
    keyed[key].load(r);
  }
  n = r.count();
  for (size_t i = 0; i < n && r.ok(); ++i) {
    auto key = r.str();
    keyed_state[key] = load_element(r);
  }
  n = r.count();
  for (size_t i = 0; i < n && r.ok(); ++i) {
    const TimestampMs end = r.i64(), start = r.i64();
    auto& bucket = windows[{end, start}];
    const size_t keys = r.count();
    for (size_t k = 0; k < keys && r.ok(); ++k) {
      auto key = r.str();
      bucket.order.push_back({key, load_tag(r)});
      bucket.accs[key].load(r);
    }
  }
  n = r.count();
  for (size_t i = 0; i < n && r.ok(); ++i) {
    auto& list = sessions[r.str()];
    list.resize(r.count());
    for (auto& x : list) {
      x.start = r.i64();
      x.end = r.i64();
      x.first = load_tag(r);
      x.acc.load(r);
      session_due = std::min(session_due, x.end - 1);
    }
  }
}

void run_group(KeyGroup& g, const JobShape& shape, size_t stage, const std::vector<Step>& functions,
               const std::vector<TimestampMs>& base, std::span<const Event> events,
               const std::function<void(TimestampMs)>& mark) {
  for (size_t k : shape.stages[stage].windows) {
    auto& wm = g.steps[shape.windows[k]].watermark;
    wm = std::max(wm, base[k]);
  }
  Runner runner(g, shape, stage, functions, mark);
  size_t next = 0;
  for (auto& in : g.pending[stage]) {
    next = runner.catch_up(events, next, &in.tag);
    runner.input(in);
  }
  g.pending[stage].clear();
  runner.catch_up(events, next, nullptr);
}

}  // namespace eddy::job::detail
