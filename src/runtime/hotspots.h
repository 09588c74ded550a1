// HOTSPOTS (KDA): the dense regions among the last windowSize points, found by a grid scan.
//
// Space is cut into cubic cells of side scanRadius (cell index floor(x / scanRadius) per
// dimension); the window's points are counted per cell as they come and go. A scan then:
//  1. takes the window's mean count per cell over the cells of its bounding box (N / that many
//     cells), and calls a cell dense when it holds at least 2 points (a pair within about
//     scanRadius of each other: the page likens scanRadius to DBSCAN's epsilon), kDenseFactor
//     times the mean, and the mean plus 3 of its standard deviations as Poisson counts
//     (mean + 3 sqrt(mean)): well above what the window's points spread evenly would put there,
//     so that noise cells seldom pass (nor join a hotspot, widening its bounds);
//  2. joins dense cells that touch (indices differing by at most 1 in every dimension, corners
//     included) into groups;
//  3. reports each group holding at least minimumNumberOfPointsInAHotspot points, with the
//     bounds (minValues, maxValues) of those points and density = points / (cells x
//     scanRadius^dims), "the number of records in the hotspot divided by the hotspot size".
// A hotspot's bounds are its points', so they fall within about a cell of the dense region's edge.
// Hotspots come densest first (then by their bounds), so the result depends only on the window's
// points, not on the order cells were created in: a restored window gives the same text.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace eddy::runtime {

class StateWriter;
class StateReader;

class Hotspots {
 public:
  static constexpr double kDenseFactor = 3.0;

  struct Hotspot {
    double density = 0;
    std::vector<double> min, max;
  };

  Hotspots(size_t dims, int window_size, double scan_radius, int min_points);

  // Adds a point (dims values), dropping the oldest once the window is full. A point with a
  // non-finite value is ignored.
  void add(const std::vector<double>& p);
  // The hotspots among the window's points now.
  std::vector<Hotspot> find() const;

  size_t dims() const { return dims_; }
  size_t size() const { return count_; }

  void save(StateWriter& w) const;
  bool load(StateReader& r);

 private:
  struct KeyHash {
    size_t operator()(const std::vector<int64_t>& k) const;
  };

  void cell_key(const double* p, std::vector<int64_t>& key) const;
  int cell_of(const std::vector<int64_t>& key);
  void drop_oldest();
  void clear();

  size_t dims_;
  int window_;
  double radius_;
  int min_points_;
  std::vector<double> points_;  // ring of window_ points
  std::vector<int> point_cell_;
  size_t head_ = 0;  // the oldest point
  size_t count_ = 0;
  // Cells holding window points: index vectors and counts by cell id, ids reused once empty.
  std::vector<std::vector<int64_t>> cell_keys_;
  std::vector<int> cell_counts_;
  std::vector<int> free_cells_;
  std::unordered_map<std::vector<int64_t>, int, KeyHash> cells_;
  mutable std::vector<int64_t> key_;
};

// HOTSPOTS_RESULT: {"hotspots":[{"density":d,"minValues":[...],"maxValues":[...]},...]}.
std::string hotspots_json(const std::vector<Hotspots::Hotspot>& hotspots);

}  // namespace eddy::runtime
