// HOTSPOTS' documented behaviour: dense boxes among uniform noise come back as hotspots covering
// the boxes, densest first; the window forgets old points; the result JSON has the page's keys;
// a restored window finds the same hotspots.
#include "runtime/hotspots.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/state_codec.h"

namespace eddy::runtime {
namespace {

class Uniform {
 public:
  explicit Uniform(uint64_t seed) : gen_(seed) {}
  double next(double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(gen_() >> 11) * 0x1.0p-53); }

 private:
  std::mt19937_64 gen_;
};

struct Box {
  double min[2], max[2];
};

// The dev guide's generator: points in [0,10)^2, a share of them drawn from hotspot boxes.
std::vector<double> point(Uniform& u, const std::vector<Box>& boxes, double hot_share) {
  const double pick = u.next(0, 1);
  for (size_t b = 0; b < boxes.size(); ++b) {
    if (pick < hot_share * static_cast<double>(b + 1) / static_cast<double>(boxes.size())) {
      return {u.next(boxes[b].min[0], boxes[b].max[0]), u.next(boxes[b].min[1], boxes[b].max[1])};
    }
  }
  return {u.next(0, 10), u.next(0, 10)};
}

// The hotspot's bounds lie within the grid's resolution of the box's: a cell at the box's edge,
// partly filled, may not be dense, and a noise cell touching the box may be.
void expect_covers(const Hotspots::Hotspot& h, const Box& b, double r) {
  for (int k = 0; k < 2; ++k) {
    EXPECT_NEAR(h.min[k], b.min[k], 2 * r) << "dimension " << k;
    EXPECT_NEAR(h.max[k], b.max[k], 2 * r) << "dimension " << k;
  }
}

TEST(Hotspots, TwoBoxesAmongNoise) {
  const std::vector<Box> boxes = {{{2, 2}, {3, 3}}, {{6.5, 6}, {8, 7}}};
  Hotspots hotspots(2, 1000, 0.2, 20);
  Uniform u(1);
  for (int i = 0; i < 3000; ++i) hotspots.add(point(u, boxes, 0.3));
  EXPECT_EQ(hotspots.size(), 1000u);
  const auto found = hotspots.find();
  ASSERT_EQ(found.size(), 2u);
  // ~150 points in 1 x 1 beat ~150 in 1.5 x 1; the noise alone is 7 points per unit area.
  expect_covers(found[0], boxes[0], 0.2);
  expect_covers(found[1], boxes[1], 0.2);
  EXPECT_GT(found[0].density, found[1].density);
  EXPECT_GT(found[1].density, 10 * 7);
  EXPECT_LT(found[0].density, 250);
}

TEST(Hotspots, UniformNoiseHasNone) {
  Hotspots hotspots(2, 1000, 0.2, 17);
  Uniform u(2);
  for (int i = 0; i < 1000; ++i) hotspots.add({u.next(0, 10), u.next(0, 10)});
  EXPECT_TRUE(hotspots.find().empty());
  EXPECT_EQ(hotspots_json(hotspots.find()), R"({"hotspots":[]})");
}

TEST(Hotspots, WindowForgetsOldPoints) {
  const Box a = {{2, 2}, {3, 3}}, b = {{7, 1}, {8, 2}};
  Hotspots hotspots(2, 300, 0.25, 20);
  Uniform u(3);
  for (int i = 0; i < 300; ++i) hotspots.add(point(u, {a}, 0.5));
  auto found = hotspots.find();
  ASSERT_EQ(found.size(), 1u);
  expect_covers(found[0], a, 0.25);
  // 300 more points, the box moved: only the new one is left.
  for (int i = 0; i < 300; ++i) hotspots.add(point(u, {b}, 0.5));
  found = hotspots.find();
  ASSERT_EQ(found.size(), 1u);
  expect_covers(found[0], b, 0.25);
  // And then nothing but noise.
  for (int i = 0; i < 300; ++i) hotspots.add({u.next(0, 10), u.next(0, 10)});
  EXPECT_TRUE(hotspots.find().empty());
}

TEST(Hotspots, ResultJson) {
  Hotspots hotspots(2, 10, 1.0, 3);
  for (const auto& p :
       std::vector<std::vector<double>>{{0.1, 0.1}, {0.25, 0.5}, {0.5, 0.125}, {9.5, 9.5}, {5.5, 0.5}}) {
    hotspots.add(p);
  }
  hotspots.add({NAN, 1});  // ignored
  EXPECT_EQ(hotspots.size(), 5u);
  // One cell of side 1 holds 3 of the 5 points; the window spans 10 x 10 cells.
  EXPECT_EQ(hotspots_json(hotspots.find()),
            R"({"hotspots":[{"density":3,"minValues":[0.1,0.1],"maxValues":[0.5,0.5]}]})");
  // Too few points for minimumNumberOfPointsInAHotspot.
  Hotspots four(2, 10, 1.0, 4);
  for (const auto& p : std::vector<std::vector<double>>{{0.1, 0.1}, {0.25, 0.5}, {0.5, 0.125}, {9.5, 9.5}}) four.add(p);
  EXPECT_TRUE(four.find().empty());
}

// A dense region is dense against the window's own spread: one tight cluster and nothing else is
// the norm, not a hotspot.
TEST(Hotspots, DensityIsRelativeToTheWindow) {
  Hotspots hotspots(2, 100, 0.5, 10);
  Uniform u(4);
  for (int i = 0; i < 100; ++i) hotspots.add({u.next(0, 1), u.next(0, 1)});
  EXPECT_TRUE(hotspots.find().empty());
  for (int i = 0; i < 20; ++i) hotspots.add({u.next(20, 30), u.next(20, 30)});
  EXPECT_EQ(hotspots.find().size(), 1u);
}

// Eight dimensions: neighbouring cells are found by comparing dense cells, not enumerating 3^8.
TEST(Hotspots, ManyDimensions) {
  Hotspots hotspots(8, 400, 0.5, 30);
  Uniform u(5);
  for (int i = 0; i < 400; ++i) {
    std::vector<double> p(8);
    const int kind = i % 4;
    for (int k = 0; k < 8; ++k) {
      if (kind == 0) {
        p[k] = u.next(1.05, 1.45);  // one cell
      } else if (kind == 1) {
        p[k] = k == 0 ? u.next(3.9, 4.1) : u.next(6.1, 6.4);  // two touching cells
      } else {
        p[k] = u.next(0, 10);
      }
    }
    hotspots.add(p);
  }
  const auto found = hotspots.find();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_GT(found[0].density, found[1].density);  // 100 points in one cell, then in two
  EXPECT_GE(found[0].min[3], 1.05);
  EXPECT_LE(found[0].max[3], 1.45);
  EXPECT_LT(found[1].min[0], 4.0);
  EXPECT_GT(found[1].max[0], 4.0);
}

TEST(Hotspots, SaveLoadRoundTrip) {
  const std::vector<Box> boxes = {{{2, 2}, {3, 3}}, {{6.5, 6}, {8, 7}}};
  Hotspots hotspots(2, 500, 0.2, 15);
  Uniform u(6);
  for (int i = 0; i < 1700; ++i) hotspots.add(point(u, boxes, 0.3));
  StateWriter w;
  hotspots.save(w);
  const std::string saved = w.take();
  Hotspots restored(2, 500, 0.2, 15);
  StateReader r(saved);
  ASSERT_TRUE(restored.load(r));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(restored.size(), hotspots.size());
  for (int i = 0; i < 600; ++i) {
    const auto p = point(u, boxes, 0.3);
    hotspots.add(p);
    restored.add(p);
    ASSERT_EQ(hotspots_json(hotspots.find()), hotspots_json(restored.find())) << i;
  }
  EXPECT_FALSE(hotspots_json(hotspots.find()).empty());

  Hotspots other(2, 500, 0.3, 15);  // another radius
  StateReader r2(saved);
  EXPECT_FALSE(other.load(r2));
  Hotspots truncated(2, 500, 0.2, 15);
  StateReader r3(std::string_view(saved).substr(0, saved.size() - 3));
  EXPECT_FALSE(truncated.load(r3));
}

}  // namespace
}  // namespace eddy::runtime
