#include "runtime/hotspots.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "runtime/state_codec.h"

namespace eddy::runtime {

namespace {

constexpr uint64_t kStateVersion = 1;
// Enumerating a cell's 3^d - 1 neighbours beats comparing dense cells pairwise while 3^d is
// small next to the number of dense cells.
constexpr size_t kMaxNeighbourEnumeration = 729;  // 3^6

int find_root(std::vector<int>& uf, int i) {
  while (uf[i] != i) {
    uf[i] = uf[uf[i]];
    i = uf[i];
  }
  return i;
}

void join(std::vector<int>& uf, int a, int b) {
  a = find_root(uf, a);
  b = find_root(uf, b);
  if (a != b) uf[std::max(a, b)] = std::min(a, b);
}

void append_number(std::string& out, double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

void append_array(std::string& out, const std::vector<double>& vs) {
  out += '[';
  for (size_t i = 0; i < vs.size(); ++i) {
    if (i > 0) out += ',';
    append_number(out, vs[i]);
  }
  out += ']';
}

}  // namespace

size_t Hotspots::KeyHash::operator()(const std::vector<int64_t>& k) const {
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (int64_t v : k) {
    h ^= static_cast<uint64_t>(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
  }
  return static_cast<size_t>(h ^ (h >> 33));
}

Hotspots::Hotspots(size_t dims, int window_size, double scan_radius, int min_points)
    : dims_(dims), window_(window_size), radius_(scan_radius), min_points_(min_points) {
  if (dims == 0 || window_size < 1 || !(scan_radius > 0) || !std::isfinite(scan_radius) || min_points < 1) {
    throw std::invalid_argument("hotspots: dimensions, window size, scan radius and minimum points must be positive");
  }
  points_.assign(static_cast<size_t>(window_size) * dims, 0);
  point_cell_.assign(static_cast<size_t>(window_size), -1);
}

void Hotspots::cell_key(const double* p, std::vector<int64_t>& key) const {
  key.resize(dims_);
  for (size_t k = 0; k < dims_; ++k) {
    // Far-off values share the outermost cells rather than overflow the index.
    const double c = std::clamp(std::floor(p[k] / radius_), -4e18, 4e18);
    key[k] = static_cast<int64_t>(c);
  }
}

int Hotspots::cell_of(const std::vector<int64_t>& key) {
  if (auto it = cells_.find(key); it != cells_.end()) return it->second;
  int id;
  if (!free_cells_.empty()) {
    id = free_cells_.back();
    free_cells_.pop_back();
    cell_keys_[id] = key;
  } else {
    id = static_cast<int>(cell_keys_.size());
    cell_keys_.push_back(key);
    cell_counts_.push_back(0);
  }
  cells_.emplace(key, id);
  return id;
}

void Hotspots::drop_oldest() {
  const int id = point_cell_[head_];
  if (--cell_counts_[id] == 0) {
    cells_.erase(cell_keys_[id]);
    free_cells_.push_back(id);
  }
  head_ = (head_ + 1) % static_cast<size_t>(window_);
  --count_;
}

void Hotspots::add(const std::vector<double>& p) {
  if (p.size() != dims_ || !std::all_of(p.begin(), p.end(), [](double x) { return std::isfinite(x); })) return;
  if (count_ == static_cast<size_t>(window_)) drop_oldest();
  const size_t slot = (head_ + count_) % static_cast<size_t>(window_);
  std::copy(p.begin(), p.end(), points_.begin() + static_cast<ptrdiff_t>(slot * dims_));
  cell_key(p.data(), key_);
  const int id = cell_of(key_);
  ++cell_counts_[id];
  point_cell_[slot] = id;
  ++count_;
}

std::vector<Hotspots::Hotspot> Hotspots::find() const {
  if (count_ == 0) return {};
  // 1. The mean count per cell of the window's bounding box, and the dense cells.
  std::vector<int64_t> lo(dims_, INT64_MAX), hi(dims_, INT64_MIN);
  for (size_t id = 0; id < cell_keys_.size(); ++id) {
    if (cell_counts_[id] == 0) continue;
    for (size_t k = 0; k < dims_; ++k) {
      lo[k] = std::min(lo[k], cell_keys_[id][k]);
      hi[k] = std::max(hi[k], cell_keys_[id][k]);
    }
  }
  double box_cells = 1;
  for (size_t k = 0; k < dims_; ++k) box_cells *= static_cast<double>(hi[k] - lo[k]) + 1;
  const double mean = static_cast<double>(count_) / box_cells;
  const double threshold = std::max({2.0, kDenseFactor * mean, mean + 3 * std::sqrt(mean)});
  std::vector<int> dense;
  std::vector<int> dense_index(cell_keys_.size(), -1);
  for (size_t id = 0; id < cell_keys_.size(); ++id) {
    if (cell_counts_[id] > 0 && cell_counts_[id] >= threshold) {
      dense_index[id] = static_cast<int>(dense.size());
      dense.push_back(static_cast<int>(id));
    }
  }
  if (dense.empty()) return {};
  key_.resize(dims_);

  // 2. Touching dense cells joined.
  std::vector<int> uf(dense.size());
  std::iota(uf.begin(), uf.end(), 0);
  size_t neighbours = 1;
  for (size_t k = 0; k < dims_ && neighbours <= kMaxNeighbourEnumeration; ++k) neighbours *= 3;
  if (neighbours <= kMaxNeighbourEnumeration && neighbours <= 4 * dense.size()) {
    std::vector<int> offset(dims_);
    for (size_t i = 0; i < dense.size(); ++i) {
      const auto& key = cell_keys_[dense[i]];
      std::fill(offset.begin(), offset.end(), -1);
      for (;;) {
        bool zero = true;
        for (size_t k = 0; k < dims_; ++k) {
          key_[k] = key[k] + offset[k];
          zero = zero && offset[k] == 0;
        }
        if (!zero) {
          if (auto it = cells_.find(key_); it != cells_.end() && dense_index[it->second] >= 0) {
            join(uf, static_cast<int>(i), dense_index[it->second]);
          }
        }
        size_t k = 0;
        while (k < dims_ && offset[k] == 1) offset[k++] = -1;
        if (k == dims_) break;
        ++offset[k];
      }
    }
  } else {
    for (size_t i = 0; i < dense.size(); ++i) {
      for (size_t j = i + 1; j < dense.size(); ++j) {
        const auto& a = cell_keys_[dense[i]];
        const auto& b = cell_keys_[dense[j]];
        bool touch = true;
        for (size_t k = 0; k < dims_ && touch; ++k) touch = a[k] - b[k] <= 1 && b[k] - a[k] <= 1;
        if (touch) join(uf, static_cast<int>(i), static_cast<int>(j));
      }
    }
  }

  // 3. The groups' points, cells and bounds.
  struct Group {
    int64_t points = 0;
    int64_t cells = 0;
    std::vector<double> min, max;
  };
  std::vector<int> group_of(dense.size(), -1);
  std::vector<Group> groups;
  for (size_t i = 0; i < dense.size(); ++i) {
    const int root = find_root(uf, static_cast<int>(i));
    if (group_of[root] < 0) {
      group_of[root] = static_cast<int>(groups.size());
      groups.push_back(Group{0, 0, std::vector<double>(dims_, INFINITY), std::vector<double>(dims_, -INFINITY)});
    }
    Group& g = groups[group_of[root]];
    g.points += cell_counts_[dense[i]];
    ++g.cells;
  }
  for (size_t n = 0; n < count_; ++n) {
    const size_t slot = (head_ + n) % static_cast<size_t>(window_);
    const int di = dense_index[point_cell_[slot]];
    if (di < 0) continue;
    Group& g = groups[group_of[find_root(uf, di)]];
    const double* p = &points_[slot * dims_];
    for (size_t k = 0; k < dims_; ++k) {
      g.min[k] = std::min(g.min[k], p[k]);
      g.max[k] = std::max(g.max[k], p[k]);
    }
  }
  const double cell_volume = std::pow(radius_, static_cast<double>(dims_));
  std::vector<Hotspot> out;
  for (Group& g : groups) {
    if (g.points < min_points_) continue;
    double density = static_cast<double>(g.points) / (static_cast<double>(g.cells) * cell_volume);
    if (!std::isfinite(density)) density = DBL_MAX;  // a volume below what a double holds
    out.push_back(Hotspot{density, std::move(g.min), std::move(g.max)});
  }
  std::sort(out.begin(), out.end(), [](const Hotspot& a, const Hotspot& b) {
    if (a.density != b.density) return a.density > b.density;
    if (a.min != b.min) return a.min < b.min;
    return a.max < b.max;
  });
  return out;
}

void Hotspots::clear() {
  head_ = count_ = 0;
  cell_keys_.clear();
  cell_counts_.clear();
  free_cells_.clear();
  cells_.clear();
}

// The window's points, oldest first: the cells are derived from them.
void Hotspots::save(StateWriter& w) const {
  w.u64(kStateVersion);
  w.u64(dims_);
  w.i64(window_);
  w.f64(radius_);
  w.i64(min_points_);
  w.u64(count_);
  for (size_t n = 0; n < count_; ++n) {
    const size_t slot = (head_ + n) % static_cast<size_t>(window_);
    for (size_t k = 0; k < dims_; ++k) w.f64(points_[slot * dims_ + k]);
  }
}

bool Hotspots::load(StateReader& r) {
  if (r.u64() != kStateVersion || r.u64() != dims_ || r.i64() != window_ || r.f64() != radius_ ||
      r.i64() != min_points_) {
    r.fail();
    return false;
  }
  const size_t n = r.count(8 * dims_);
  std::vector<double> points(n * dims_);
  for (double& v : points) v = r.f64();
  if (!r.ok() || n > static_cast<size_t>(window_) ||
      !std::all_of(points.begin(), points.end(), [](double x) { return std::isfinite(x); })) {
    r.fail();
    return false;
  }
  clear();
  std::vector<double> p(dims_);
  for (size_t i = 0; i < n; ++i) {
    std::copy(points.begin() + static_cast<ptrdiff_t>(i * dims_),
              points.begin() + static_cast<ptrdiff_t>((i + 1) * dims_), p.begin());
    add(p);
  }
  return true;
}

std::string hotspots_json(const std::vector<Hotspots::Hotspot>& hotspots) {
  std::string out = "{\"hotspots\":[";
  for (size_t i = 0; i < hotspots.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"density\":";
    append_number(out, hotspots[i].density);
    out += ",\"minValues\":";
    append_array(out, hotspots[i].min);
    out += ",\"maxValues\":";
    append_array(out, hotspots[i].max);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace eddy::runtime
