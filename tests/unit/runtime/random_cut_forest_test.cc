// RANDOM_CUT_FOREST's documented behaviour: zeros while learning, outliers scored highest,
// explanations that name the outlying column and its direction and sum to the score, shingles that
// see a broken pattern, decay that forgets, and checkpoints that resume bit for bit.
#include "runtime/random_cut_forest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/state_codec.h"

namespace eddy::runtime {
namespace {

// Normal deviates by Box-Muller over mt19937_64, whose output the standard fixes.
class Gauss {
 public:
  explicit Gauss(uint64_t seed) : gen_(seed) {}
  double uniform() { return (static_cast<double>(gen_() >> 11) + 0.5) * 0x1.0p-53; }
  double next() { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * std::numbers::pi * uniform()); }

 private:
  std::mt19937_64 gen_;
};

RcfOptions small(uint64_t seed = 7) {
  RcfOptions o;
  o.trees = 40;
  o.sample_size = 128;
  o.seed = seed;
  return o;
}

// Three clusters of 2-D points, as in the page's picture.
std::vector<double> clustered(Gauss& g, int i) {
  static const double centres[3][2] = {{0, 0}, {12, 3}, {5, 14}};
  const auto& c = centres[i % 3];
  return {c[0] + g.next(), c[1] + g.next()};
}

TEST(RandomCutForest, ScoresZeroWhileLearning) {
  RcfOptions o = small();
  o.sample_size = 64;
  RandomCutForest forest(2, o);
  Gauss g(1);
  for (int i = 0; i < 64; ++i) {
    RandomCutForest::Explanation e;
    EXPECT_EQ(forest.score_and_update(clustered(g, i), &e), 0.0) << i;
    EXPECT_EQ(e.attribution, std::vector<double>(2, 0.0));
  }
  EXPECT_EQ(forest.seen(), 64);
  EXPECT_GT(forest.score_and_update(clustered(g, 64)), 0.0);
  // The explanation of a learning-phase record: zeros, direction LOW, strength 0.
  EXPECT_EQ(anomaly_explanation_json({"x", "y"}, RandomCutForest::Explanation{{0, 0}, {0, 0}, {0, 0}}, true),
            R"({"x":{"DIRECTION":"LOW","STRENGTH":"0.0000","ATTRIBUTION_SCORE":"0.0000"},)"
            R"("y":{"DIRECTION":"LOW","STRENGTH":"0.0000","ATTRIBUTION_SCORE":"0.0000"}})");
}

TEST(RandomCutForest, ShinglesWaitForAFullShingle) {
  RcfOptions o = small();
  o.sample_size = 16;
  o.shingle_size = 4;
  RandomCutForest forest(1, o);
  for (int i = 0; i < 3 + 16; ++i) EXPECT_EQ(forest.score_and_update({std::sin(i * 0.3)}), 0.0) << i;
  EXPECT_EQ(forest.seen(), 16);
  EXPECT_GT(forest.score_and_update({std::sin(19 * 0.3)}), 0.0);
}

TEST(RandomCutForest, OutliersScoreHighest) {
  RandomCutForest forest(2, small());
  Gauss g(2);
  const std::vector<std::vector<double>> outliers = {{6, -8}, {25, 3}, {-9, 12}, {-7, -7}, {18, 18}};
  const std::vector<int> at = {700, 1000, 1300, 1600, 1900};
  std::vector<std::pair<double, int>> scores;
  double typical = 0;
  int typical_n = 0;
  for (int i = 0; i < 2000; ++i) {
    auto it = std::find(at.begin(), at.end(), i);
    const auto p = it != at.end() ? outliers[it - at.begin()] : clustered(g, i);
    const double s = forest.score_and_update(p);
    if (i >= 500) scores.emplace_back(s, i);
    if (i >= 500 && it == at.end()) {
      typical += s;
      ++typical_n;
    }
  }
  std::sort(scores.rbegin(), scores.rend());
  std::vector<int> top;
  for (size_t k = 0; k < at.size(); ++k) top.push_back(scores[k].second);
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, at);
  // The scale the dev guide shows: typical records below about 1, clear outliers well above.
  EXPECT_LT(typical / typical_n, 1.2);
  EXPECT_GT(scores[at.size() - 1].first, 2.0);
}

TEST(RandomCutForest, ExplanationNamesTheShiftedColumnAndItsDirection) {
  RandomCutForest forest(3, small(11));
  Gauss g(3);
  for (int i = 0; i < 1000; ++i) forest.update({g.next(), 10 + g.next(), -5 + g.next()});
  const std::vector<double> normal = {0, 10, -5};
  for (size_t dim = 0; dim < 3; ++dim) {
    for (const double shift : {-7.0, 7.0}) {
      auto p = normal;
      p[dim] += shift;
      RandomCutForest::Explanation e;
      const double s = forest.explain(p, &e);
      EXPECT_EQ(s, forest.score(p));
      EXPECT_GT(s, 1.5);
      const auto top = std::max_element(e.attribution.begin(), e.attribution.end()) - e.attribution.begin();
      EXPECT_EQ(static_cast<size_t>(top), dim) << "shift " << shift;
      if (shift > 0) {
        EXPECT_GT(e.high[dim], e.low[dim]);
      } else {
        EXPECT_GT(e.low[dim], e.high[dim]);
      }
      double sum = 0;
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_DOUBLE_EQ(e.attribution[k], e.high[k] + e.low[k]);
        EXPECT_GE(e.high[k], 0);
        EXPECT_GE(e.low[k], 0);
        sum += e.attribution[k];
      }
      EXPECT_NEAR(sum, s, 1e-9 * s);
      const std::string json = anomaly_explanation_json({"a", "b", "c"}, e, true);
      const std::string name = std::string("\"") + "abc"[dim] + "\":{\"DIRECTION\":\"";
      EXPECT_NE(json.find(name + (shift > 0 ? "HIGH" : "LOW")), std::string::npos) << json;
    }
  }
  // Attributions sum to the score for ordinary points too.
  for (int i = 0; i < 50; ++i) {
    RandomCutForest::Explanation e;
    const double s = forest.score_and_update({g.next(), 10 + g.next(), -5 + g.next()}, &e);
    EXPECT_NEAR(e.attribution[0] + e.attribution[1] + e.attribution[2], s, 1e-9 * s);
  }
  EXPECT_EQ(anomaly_explanation_json({"a\"b"}, RandomCutForest::Explanation{{0.37921}, {0.1}, {0.27921}}, false),
            R"({"a\"b":{"ATTRIBUTION_SCORE":"0.3792"}})");
}

// A noisy sine of period 20 learnt in shingles of 8, with one stretch of 20 values at twice the
// frequency. Each value is ordinary on its own, so only the shingles' shape shows the break: the
// shingled forest scores highest there, one without shingles somewhere else.
TEST(RandomCutForest, ShinglesFindABrokenPeriod) {
  RcfOptions o = small(5);
  o.shingle_size = 8;
  RandomCutForest forest(1, o);
  RandomCutForest flat(1, small(5));
  constexpr int kBreak = 2000;
  double best = 0, flat_best = 0, typical = 0;
  int best_at = -1, flat_best_at = -1, typical_n = 0;
  Gauss g(12);
  for (int i = 0; i < 2600; ++i) {
    const bool broken = i >= kBreak && i < kBreak + 20;
    const double x = 0.05 * g.next() + std::sin(2 * std::numbers::pi * i / (broken ? 10 : 20));
    const double s = forest.score_and_update({x});
    const double f = flat.score_and_update({x});
    if (s > best) {
      best = s;
      best_at = i;
    }
    if (f > flat_best) {
      flat_best = f;
      flat_best_at = i;
    }
    if (i >= 500 && (i < kBreak || i >= kBreak + 20 + 8)) {
      typical += s;
      ++typical_n;
    }
  }
  EXPECT_GE(best_at, kBreak);
  EXPECT_LT(best_at, kBreak + 20 + 8);  // shingles ending in the break
  EXPECT_GT(best, 1.5 * typical / typical_n);
  EXPECT_TRUE(flat_best_at < kBreak || flat_best_at >= kBreak + 20) << flat_best_at;
}

// Small timeDecay: after the stream moves, the old cluster is forgotten and the new one is normal.
TEST(RandomCutForest, TimeDecayForgetsOldPoints) {
  RcfOptions o = small(9);
  o.time_decay = 300;
  RandomCutForest forest(2, o);
  Gauss g(4);
  for (int i = 0; i < 1500; ++i) forest.update({g.next(), g.next()});
  EXPECT_LT(forest.score({0, 0}), 1.2);
  const double new_cluster_before = forest.score({40, 40});
  for (int i = 0; i < 1500; ++i) forest.update({40 + g.next(), 40 + g.next()});
  EXPECT_LT(forest.score({40, 40}), 1.2);
  EXPECT_GT(new_cluster_before, 2.0);
  EXPECT_GT(forest.score({0, 0}), 2.0);
}

std::vector<std::vector<double>> stream(int n, uint64_t seed) {
  Gauss g(seed);
  std::vector<std::vector<double>> out;
  for (int i = 0; i < n; ++i) {
    auto p = clustered(g, i);
    if (i % 97 == 0) p[i % 2] += 9;                     // a few outliers
    if (i % 50 == 0) p = out.empty() ? p : out.back();  // and duplicates
    out.push_back(p);
  }
  return out;
}

TEST(RandomCutForest, RestoredCheckpointScoresBitIdentically) {
  RcfOptions o = small(13);
  o.shingle_size = 3;
  o.time_decay = 400;  // points expire too
  const auto points = stream(2400, 6);
  RandomCutForest forest(2, o);
  for (int i = 0; i < 1200; ++i) forest.update(points[i]);
  StateWriter w;
  forest.save(w);
  const std::string saved = w.take();

  RandomCutForest restored(2, o);
  StateReader r(saved);
  ASSERT_TRUE(restored.load(r));
  EXPECT_TRUE(r.done());
  for (int i = 1200; i < 2400; ++i) {
    RandomCutForest::Explanation a, b;
    const double sa = forest.score_and_update(points[i], &a);
    const double sb = restored.score_and_update(points[i], &b);
    ASSERT_EQ(sa, sb) << i;
    ASSERT_EQ(a.high, b.high) << i;
    ASSERT_EQ(a.low, b.low) << i;
  }
  StateWriter wa, wb;
  forest.save(wa);
  restored.save(wb);
  EXPECT_EQ(wa.bytes(), wb.bytes());
}

TEST(RandomCutForest, LoadRefusesWhatDoesNotFit) {
  RandomCutForest forest(2, small());
  for (const auto& p : stream(300, 8)) forest.update(p);
  StateWriter w;
  forest.save(w);
  const std::string saved = w.take();
  {
    RandomCutForest other(2, small(99));  // another seed: another forest
    StateReader r(saved);
    EXPECT_FALSE(other.load(r));
  }
  {
    RandomCutForest other(3, small());
    StateReader r(saved);
    EXPECT_FALSE(other.load(r));
  }
  for (size_t cut : {saved.size() / 3, saved.size() - 5}) {
    RandomCutForest other(2, small());
    StateReader r(std::string_view(saved).substr(0, cut));
    EXPECT_FALSE(other.load(r));
    EXPECT_EQ(other.seen(), 0);  // a refused blob changes nothing
  }
  // Garbled bytes (node ids, masses, kinds) are refused or load something safe to run.
  for (size_t at = 200; at + 16 < saved.size(); at += saved.size() / 40) {
    std::string corrupt = saved;
    for (size_t i = at; i < at + 16; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    RandomCutForest other(2, small());
    StateReader r(corrupt);
    if (other.load(r)) {
      for (const auto& p : stream(50, 9)) other.score_and_update(p);
    }
  }
}

TEST(RandomCutForest, EqualSeedsGiveEqualScores) {
  const auto points = stream(800, 10);
  RandomCutForest a(2, small(21)), b(2, small(21)), c(2, small(22));
  bool differs = false;
  for (const auto& p : points) {
    const double sa = a.score_and_update(p);
    ASSERT_EQ(sa, b.score_and_update(p));
    differs = differs || sa != c.score_and_update(p);
  }
  EXPECT_TRUE(differs);
}

TEST(RandomCutForest, NonFinitePointsAreSkipped) {
  RcfOptions o = small();
  o.sample_size = 16;
  RandomCutForest forest(2, o);
  for (int i = 0; i < 20; ++i) forest.update({i * 0.1, 1.0});
  EXPECT_EQ(forest.score_and_update({NAN, 1.0}), 0.0);
  EXPECT_EQ(forest.score_and_update({1.0}), 0.0);  // wrong width
  EXPECT_EQ(forest.seen(), 20);
}

}  // namespace
}  // namespace eddy::runtime
