// The row-by-row table functions of KDA: the machine-learning ones (sqlref/sqlrf-random-cut-forest,
// -random-cut-forest-with-explanation, -hotspots) and GROUP_RANK (sql-reference-group-rank-udx):
// their arguments, checked here, and the columns their rows have: the CURSOR's, then
// ANOMALY_SCORE [ANOMALY_EXPLANATION], HOTSPOTS_RESULT or the rank.
#include <cstdlib>

#include "sql/planner_internal.h"

namespace eddy::sql {

using runtime::AnomalySpec;
using runtime::PumpMode;

namespace {

// A stable seed from the pump's name: every run, replay and parallelism gets the same model.
uint64_t seed_of(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

Result<double> number_literal(const Expr& e, const char* what) {
  if (e.kind == ExprKind::kLiteral && e.type.is_numeric()) {
    char* end = nullptr;
    const double v = std::strtod(e.text.c_str(), &end);
    if (end && *end == '\0') return v;
  }
  return error_at(e.loc, std::string(what) + " must be a number");
}

Result<bool> boolean_literal(const Expr& e, const char* what) {
  if (e.kind == ExprKind::kLiteral && e.type.id == TypeId::kBoolean) return e.text == "TRUE";
  return error_at(e.loc, std::string(what) + " must be TRUE or FALSE");
}

Status in_range(const Expr& e, int64_t v, int64_t lo, int64_t hi, const char* what) {
  if (v < lo || v > hi) {
    return error_at(e.loc, std::string(what) + " must be from " + std::to_string(lo) + " to " + std::to_string(hi) +
                               ", got " + std::to_string(v));
  }
  return {};
}

}  // namespace

Status plan_anomaly(const std::string& function, const FromItem& from, const CreatePump& pump,
                    const runtime::StreamDef& cursor, runtime::PumpPlan& plan, runtime::StreamDef& derived) {
  AnomalySpec a;
  a.kind = function == "HOTSPOTS"                             ? AnomalySpec::Kind::kHotspots
           : function == "RANDOM_CUT_FOREST_WITH_EXPLANATION" ? AnomalySpec::Kind::kForestExplained
                                                              : AnomalySpec::Kind::kForest;
  const auto& args = from.function_args;
  // The model's dimensions: the CURSOR's numeric columns (the pages: DECIMAL is not supported).
  a.width = cursor.columns.size();
  for (size_t i = 0; i < cursor.columns.size(); ++i) {
    const auto& c = cursor.columns[i];
    if (c.name == "APPROXIMATE_ARRIVAL_TIME") continue;
    if (c.type.id == TypeId::kDecimal)
      return error_at(from.loc, function + " does not take DECIMAL columns: cast " + quote(c.name) + " to DOUBLE");
    if (!c.type.is_numeric()) continue;
    a.columns.push_back(i);
    a.names.push_back(c.name);
    a.approx.push_back(c.type.is_approx());
  }
  if (a.columns.empty()) return error_at(from.loc, function + " needs a numeric column in its CURSOR");
  if (a.columns.size() > 30) return error_at(from.loc, function + " takes at most 30 numeric columns");
  a.seed = seed_of(pump.name.name + "/" + function);
  if (a.kind == AnomalySpec::Kind::kHotspots) {
    if (args.size() != 3)
      return error_at(from.loc,
                      "HOTSPOTS takes (CURSOR(...), windowSize, scanRadius, minimumNumberOfPointsInAHotspot)");
    auto window = integer_literal(*args[0], "windowSize");
    if (!window) return tl::unexpected(window.error());
    if (auto st = in_range(*args[0], *window, 1, 100000, "windowSize"); !st) return st;
    auto radius = number_literal(*args[1], "scanRadius");
    if (!radius) return tl::unexpected(radius.error());
    if (!(*radius > 0) || *radius > 1e300) return error_at(args[1]->loc, "scanRadius must be positive");
    auto points = integer_literal(*args[2], "minimumNumberOfPointsInAHotspot");
    if (!points) return tl::unexpected(points.error());
    if (auto st = in_range(*args[2], *points, 2, *window, "minimumNumberOfPointsInAHotspot"); !st) return st;
    a.window_size = *window;
    a.scan_radius = *radius;
    a.min_points = *points;
  } else {
    // (CURSOR [, numberOfTrees, subSampleSize, timeDecay, shingleSize [, withDirectionality]] [, randomSeed])
    const bool explained = a.kind == AnomalySpec::Kind::kForestExplained;
    const size_t full = explained ? 5 : 4;
    if (!args.empty() && args.size() != full && args.size() != full + 1) {
      return error_at(from.loc, function +
                                    " takes (CURSOR(...)) or (CURSOR(...), numberOfTrees, subSampleSize, "
                                    "timeDecay, shingleSize" +
                                    std::string(explained ? ", withDirectionality" : "") + " [, randomSeed])");
    }
    if (!args.empty()) {
      int64_t* fields[] = {&a.trees, &a.sample_size, &a.time_decay, &a.shingle_size};
      const char* names[] = {"numberOfTrees", "subSampleSize", "timeDecay", "shingleSize"};
      const int64_t lo[] = {1, 10, 1, 1}, hi[] = {1000, 1000, int64_t{1} << 31, 30};
      for (size_t i = 0; i < 4; ++i) {
        auto v = integer_literal(*args[i], names[i]);
        if (!v) return tl::unexpected(v.error());
        if (auto st = in_range(*args[i], *v, lo[i], hi[i], names[i]); !st) return st;
        *fields[i] = *v;
      }
      if (explained) {
        auto d = boolean_literal(*args[4], "withDirectionality");
        if (!d) return tl::unexpected(d.error());
        a.directionality = *d;
      }
      if (args.size() == full + 1) {
        auto seed = integer_literal(*args.back(), "randomSeed");
        if (!seed) return tl::unexpected(seed.error());
        a.seed = static_cast<uint64_t>(*seed);
      }
    }
    // Memory: every tree holds its sample as boxes of the shingled points.
    const double values = static_cast<double>(a.trees) * static_cast<double>(a.sample_size) *
                          static_cast<double>(a.columns.size()) * static_cast<double>(a.shingle_size);
    if (values > 8e6) {
      return error_at(from.loc, function +
                                    ": numberOfTrees x subSampleSize x columns x shingleSize is at most 8 "
                                    "million (the forest's memory, about 200 MB)");
    }
  }
  plan.mode = PumpMode::kAnomaly;
  derived = cursor;
  derived.name = function;
  derived.is_input = false;
  if (a.kind == AnomalySpec::Kind::kHotspots) {
    derived.columns.push_back({"HOTSPOTS_RESULT", SqlType::varchar()});
  } else {
    derived.columns.push_back({"ANOMALY_SCORE", SqlType::of(TypeId::kDouble)});
    if (a.kind == AnomalySpec::Kind::kForestExplained)
      derived.columns.push_back({"ANOMALY_EXPLANATION", SqlType::varchar()});
  }
  plan.anomaly = std::move(a);
  return {};
}

Status plan_group_rank(const FromItem& from, const runtime::StreamDef& cursor, runtime::PumpPlan& plan,
                       runtime::StreamDef& derived) {
  const auto& args = from.function_args;
  const std::string shape =
      "GROUP_RANK takes (CURSOR(...), rankByColumnName, rankOutColumnName, sortOrder, outputOrder, maxIdle, "
      "outputMax)";
  if (args.size() != 6) return error_at(from.loc, shape);
  std::string text[4];
  for (size_t i = 0; i < 4; ++i) {
    if (args[i]->kind != ExprKind::kLiteral || !args[i]->type.is_string()) return error_at(args[i]->loc, shape);
    text[i] = args[i]->text;
  }
  runtime::GroupRankSpec g;
  g.width = cursor.columns.size();
  bool found = false;
  for (size_t i = 0; i < cursor.columns.size() && !found; ++i) {
    if (cursor.columns[i].name == text[0]) {
      g.column = i;
      found = true;
    }
  }
  if (!found) return error_at(args[0]->loc, "column " + quote(text[0]) + " not found in " + quote(cursor.name));
  auto order = [&](const std::string& v, const Expr& at) -> Result<bool> {
    std::string lower = v;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "asc" && lower != "desc") return error_at(at.loc, "sortOrder and outputOrder are 'asc' or 'desc'");
    return lower == "desc";
  };
  auto sort = order(text[2], *args[2]);
  if (!sort) return tl::unexpected(sort.error());
  auto output = order(text[3], *args[3]);
  if (!output) return tl::unexpected(output.error());
  g.descending = *sort;
  g.output_descending = *output;
  auto idle = integer_literal(*args[4], "maxIdle");
  if (!idle) return tl::unexpected(idle.error());
  if (auto st = in_range(*args[4], *idle, 0, int64_t{1} << 40, "maxIdle"); !st) return st;
  auto max = integer_literal(*args[5], "outputMax");
  if (!max) return tl::unexpected(max.error());
  if (auto st = in_range(*args[5], *max, 0, int64_t{1} << 40, "outputMax"); !st) return st;
  g.max_idle_ms = *idle;
  g.output_max = *max;
  if (text[1].empty()) return error_at(args[1]->loc, "rankOutColumnName names the rank's column");
  plan.mode = PumpMode::kGroupRank;
  plan.group_rank = g;
  derived = cursor;
  derived.name = "GROUP_RANK";
  derived.is_input = false;
  derived.columns.push_back({text[1], SqlType::of(TypeId::kInteger)});
  return {};
}

}  // namespace eddy::sql
