#include "runtime/random_cut_forest.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "runtime/state_codec.h"

namespace eddy::runtime {

namespace {

constexpr uint64_t kStateVersion = 1;

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A tree's state is packed into one byte string (little-endian, ints as 4 bytes): the codec's
// 8 bytes a field would double the size of checkpoints that are mostly node ids.
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_i32(std::string& out, int v) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
void put_f64(std::string& out, double v) {
  put_u64(out, std::bit_cast<uint64_t>(v));
}

struct Unpacker {
  std::string_view in;
  bool ok = true;

  bool need(size_t n) {
    if (!ok || in.size() < n) ok = false;
    return ok;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    in.remove_prefix(8);
    return v;
  }
  int i32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    in.remove_prefix(4);
    return static_cast<int>(v);
  }
  uint8_t u8() {
    if (!need(1)) return 0;
    const auto v = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    return v;
  }
  double f64() { return std::bit_cast<double>(u64()); }
  // An id in [lo, hi), or a failure.
  int id(int lo, int hi) {
    const int v = i32();
    if (v < lo || v >= hi) ok = false;
    return ok ? v : lo;
  }
};

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

// xoshiro256**, seeded through splitmix64: small, fast, and its whole state is checkpointed.
void RandomCutForest::Rng::seed(uint64_t v) {
  for (auto& x : s) x = splitmix64(v);
}

uint64_t RandomCutForest::Rng::next() {
  const uint64_t result = std::rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = std::rotl(s[3], 45);
  return result;
}

double RandomCutForest::Rng::uniform() {
  return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53;
}

// ---- Tree -------------------------------------------------------------------------------------

void RandomCutForest::Tree::init(size_t dim, int sample_size, uint64_t seed) {
  dim_ = dim;
  capacity_ = sample_size;
  rng_.seed(seed);
  const size_t nodes = 2 * static_cast<size_t>(sample_size) - 1;
  nodes_.assign(nodes, Node{});
  box_.assign(nodes * 2 * dim, 0);
  free_nodes_.clear();
  for (size_t n = nodes; n-- > 0;) free_nodes_.push_back(static_cast<int>(n));
  slots_.assign(sample_size, Slot{});
  heap_.clear();
  heap_pos_.assign(sample_size, -1);
  free_slots_.clear();
  for (int s = sample_size; s-- > 0;) free_slots_.push_back(s);
  root_ = -1;
  mass_total_ = 0;
  by_age_.clear();
}

int RandomCutForest::Tree::new_node() {
  const int n = free_nodes_.back();
  free_nodes_.pop_back();
  return n;
}

void RandomCutForest::Tree::replace_child(int parent, int old_child, int new_child) {
  if (parent < 0) {
    root_ = new_child;
  } else if (nodes_[parent].child[0] == old_child) {
    nodes_[parent].child[0] = new_child;
  } else {
    nodes_[parent].child[1] = new_child;
  }
}

void RandomCutForest::Tree::set_box_from_children(int n) {
  const double* ll = box_lo(nodes_[n].child[0]);
  const double* lh = box_hi(nodes_[n].child[0]);
  const double* rl = box_lo(nodes_[n].child[1]);
  const double* rh = box_hi(nodes_[n].child[1]);
  double* lo = box_lo(n);
  double* hi = box_hi(n);
  for (size_t j = 0; j < dim_; ++j) {
    lo[j] = std::min(ll[j], rl[j]);
    hi[j] = std::max(lh[j], rh[j]);
  }
}

// Descends from the root; at each node a cut is drawn over the node's box grown to hold p. If it
// separates p from the box, p becomes a leaf beside that node under a new node with this cut;
// otherwise p goes on down the side the node's own cut sends it. At a leaf holding another point
// every such cut separates; at a leaf holding p itself the leaf's mass grows.
int RandomCutForest::Tree::insert(const double* p) {
  ++mass_total_;
  auto new_leaf = [&] {
    const int leaf = new_node();
    nodes_[leaf].child[0] = nodes_[leaf].child[1] = -1;
    nodes_[leaf].mass = 1;
    std::copy(p, p + dim_, box_lo(leaf));
    std::copy(p, p + dim_, box_hi(leaf));
    return leaf;
  };
  if (root_ < 0) {
    root_ = new_leaf();
    nodes_[root_].parent = -1;
    return root_;
  }
  int n = root_;
  for (;;) {
    const double* lo = box_lo(n);
    const double* hi = box_hi(n);
    double sum = 0;
    for (size_t j = 0; j < dim_; ++j) sum += std::max(hi[j], p[j]) - std::min(lo[j], p[j]);
    if (sum == 0) {  // a leaf holding p
      for (int a = n; a >= 0; a = nodes_[a].parent) ++nodes_[a].mass;
      return n;
    }
    double r = rng_.uniform() * sum;
    int dim = -1, last = -1;
    double cut = 0;
    for (size_t j = 0; j < dim_; ++j) {
      const double low = std::min(lo[j], p[j]);
      const double range = std::max(hi[j], p[j]) - low;
      if (range <= 0) continue;
      last = static_cast<int>(j);
      if (r < range) {
        dim = last;
        cut = low + r;
        break;
      }
      r -= range;
    }
    if (dim < 0) {  // r ran past the end by rounding
      dim = last;
      cut = INFINITY;
    }
    const double top = std::max(hi[dim], p[dim]);
    if (cut >= top || cut < std::min(lo[dim], p[dim])) cut = std::nextafter(top, -INFINITY);
    const bool separates = (p[dim] <= cut && cut < lo[dim]) || (hi[dim] <= cut && cut < p[dim]);
    if (!separates) {
      n = nodes_[n].child[p[nodes_[n].cut_dim] > nodes_[n].cut];
      continue;
    }
    const int leaf = new_leaf();
    const int in = new_node();
    const int par = nodes_[n].parent;
    nodes_[in].cut_dim = dim;
    nodes_[in].cut = cut;
    nodes_[in].mass = nodes_[n].mass + 1;
    for (size_t j = 0; j < dim_; ++j) {
      box_lo(in)[j] = std::min(lo[j], p[j]);
      box_hi(in)[j] = std::max(hi[j], p[j]);
    }
    if (p[dim] <= cut) {
      nodes_[in].child[0] = leaf;
      nodes_[in].child[1] = n;
    } else {
      nodes_[in].child[0] = n;
      nodes_[in].child[1] = leaf;
    }
    nodes_[in].parent = par;
    replace_child(par, n, in);
    nodes_[n].parent = in;
    nodes_[leaf].parent = in;
    for (int a = par; a >= 0; a = nodes_[a].parent) {
      ++nodes_[a].mass;
      for (size_t j = 0; j < dim_; ++j) {
        box_lo(a)[j] = std::min(box_lo(a)[j], p[j]);
        box_hi(a)[j] = std::max(box_hi(a)[j], p[j]);
      }
    }
    return leaf;
  }
}

// Takes one unit of mass off a leaf; a leaf left empty goes, and its sibling takes its parent's
// place. Boxes above are recomputed from their children, so a node's box is always exactly the
// bounds of the points under it (which load() relies on to rebuild boxes bit for bit).
void RandomCutForest::Tree::remove(int leaf) {
  --mass_total_;
  if (nodes_[leaf].mass > 1) {
    for (int a = leaf; a >= 0; a = nodes_[a].parent) --nodes_[a].mass;
    return;
  }
  const int par = nodes_[leaf].parent;
  nodes_[leaf].mass = 0;
  free_nodes_.push_back(leaf);
  if (par < 0) {
    root_ = -1;
    return;
  }
  const int sib = nodes_[par].child[0] == leaf ? nodes_[par].child[1] : nodes_[par].child[0];
  const int gp = nodes_[par].parent;
  nodes_[sib].parent = gp;
  replace_child(gp, par, sib);
  nodes_[par].mass = 0;
  free_nodes_.push_back(par);
  for (int a = gp; a >= 0; a = nodes_[a].parent) {
    --nodes_[a].mass;
    set_box_from_children(a);
  }
}

// The sample as a max-heap on keys: the point to give up for a better (smaller) key is on top.
bool RandomCutForest::Tree::heap_less(int a, int b) const {
  if (slots_[a].key != slots_[b].key) return slots_[a].key < slots_[b].key;
  return a < b;
}

void RandomCutForest::Tree::heap_up(size_t i) {
  while (i > 0) {
    const size_t up = (i - 1) / 2;
    if (!heap_less(heap_[up], heap_[i])) break;
    std::swap(heap_[up], heap_[i]);
    heap_pos_[heap_[up]] = static_cast<int>(up);
    heap_pos_[heap_[i]] = static_cast<int>(i);
    i = up;
  }
}

void RandomCutForest::Tree::heap_down(size_t i) {
  for (;;) {
    size_t big = i;
    const size_t l = 2 * i + 1, r = l + 1;
    if (l < heap_.size() && heap_less(heap_[big], heap_[l])) big = l;
    if (r < heap_.size() && heap_less(heap_[big], heap_[r])) big = r;
    if (big == i) return;
    std::swap(heap_[big], heap_[i]);
    heap_pos_[heap_[big]] = static_cast<int>(big);
    heap_pos_[heap_[i]] = static_cast<int>(i);
    i = big;
  }
}

void RandomCutForest::Tree::heap_erase(int slot) {
  const size_t i = static_cast<size_t>(heap_pos_[slot]);
  heap_pos_[slot] = -1;
  const int moved = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  heap_[i] = moved;
  heap_pos_[moved] = static_cast<int>(i);
  heap_up(i);
  heap_down(static_cast<size_t>(heap_pos_[moved]));
}

void RandomCutForest::Tree::evict(int slot) {
  heap_erase(slot);
  remove(slots_[slot].leaf);
  slots_[slot] = Slot{};
  free_slots_.push_back(slot);
}

void RandomCutForest::Tree::offer(const double* p, int64_t t, int64_t time_decay) {
  while (!by_age_.empty()) {
    const auto [seq, slot] = by_age_.front();
    if (slots_[slot].seq != seq) {  // evicted since
      by_age_.pop_front();
      continue;
    }
    if (seq > t - time_decay) break;
    by_age_.pop_front();
    evict(slot);
  }
  const double key = std::log(-std::log(rng_.uniform())) - static_cast<double>(t) / static_cast<double>(time_decay);
  if (free_slots_.empty()) {
    const int top = heap_.front();
    if (!(key < slots_[top].key)) return;
    evict(top);
  }
  const int slot = free_slots_.back();
  free_slots_.pop_back();
  slots_[slot] = Slot{key, t, insert(p)};
  heap_.push_back(slot);
  heap_pos_[slot] = static_cast<int>(heap_.size() - 1);
  heap_up(heap_.size() - 1);
  by_age_.emplace_back(t, slot);
}

double RandomCutForest::Tree::score(const double* p, double* high, double* low, std::vector<int>& path) const {
  if (root_ < 0) return 0;
  path.clear();
  int n = root_;
  while (nodes_[n].child[0] >= 0) {
    path.push_back(n);
    const Node& node = nodes_[n];
    n = p[node.cut_dim] <= node.cut ? node.child[0] : node.child[1];
  }
  const double* q = box_lo(n);
  const size_t depth = path.size();
  double dist = 0;
  for (size_t j = 0; j < dim_; ++j) dist += std::fabs(p[j] - q[j]);
  double s;
  if (dist == 0) {  // p is the leaf's point: inside every box above, so no cut separates it
    const double m = nodes_[n].mass;
    s = (1 - m / (2.0 * static_cast<double>(mass_total_))) / (static_cast<double>(depth) + std::log2(1 + m));
    if (high) {
      std::fill(high, high + dim_, s / (2.0 * static_cast<double>(dim_)));
      std::fill(low, low + dim_, s / (2.0 * static_cast<double>(dim_)));
    }
  } else {
    s = 1.0 / (static_cast<double>(depth) + 1);
    if (high) {
      for (size_t j = 0; j < dim_; ++j) {
        high[j] = p[j] > q[j] ? s * (p[j] - q[j]) / dist : 0;
        low[j] = p[j] < q[j] ? s * (q[j] - p[j]) / dist : 0;
      }
    }
    for (size_t k = depth; k-- > 0;) {
      const double* lo = box_lo(path[k]);
      const double* hi = box_hi(path[k]);
      double gap = 0, total = 0;
      for (size_t j = 0; j < dim_; ++j) {
        const double below = std::max(0.0, lo[j] - p[j]);
        const double above = std::max(0.0, p[j] - hi[j]);
        gap += below + above;
        total += (hi[j] - lo[j]) + below + above;
      }
      if (gap <= 0) break;  // the box holds p, and so do all above it
      const double prob = gap / total;
      const double unseen = 1.0 / (static_cast<double>(k) + 1);
      s = prob * unseen + (1 - prob) * s;
      if (high) {
        for (size_t j = 0; j < dim_; ++j) {
          const double below = std::max(0.0, lo[j] - p[j]);
          const double above = std::max(0.0, p[j] - hi[j]);
          high[j] = above / total * unseen + (1 - prob) * high[j];
          low[j] = below / total * unseen + (1 - prob) * low[j];
        }
      }
    }
  }
  const double norm = std::log2(1 + static_cast<double>(mass_total_));
  if (high) {
    for (size_t j = 0; j < dim_; ++j) {
      high[j] *= norm;
      low[j] *= norm;
    }
  }
  return s * norm;
}

// Layout: generator, root, total mass; each node (0 free, 1 leaf: mass and point, 2 inner:
// children, mass, cut); the free node stack; each slot (key, seq, leaf); heap order; the free
// slot stack. Parents and inner boxes are derived, so not stored.
void RandomCutForest::Tree::save(std::string& out) const {
  for (uint64_t x : rng_.s) put_u64(out, x);
  put_i32(out, root_);
  put_u64(out, static_cast<uint64_t>(mass_total_));
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n].mass == 0) {
      out.push_back(0);
    } else if (nodes_[n].child[0] < 0) {
      out.push_back(1);
      put_i32(out, nodes_[n].mass);
      for (size_t j = 0; j < dim_; ++j) put_f64(out, box_lo(n)[j]);
    } else {
      out.push_back(2);
      put_i32(out, nodes_[n].child[0]);
      put_i32(out, nodes_[n].child[1]);
      put_i32(out, nodes_[n].mass);
      put_i32(out, nodes_[n].cut_dim);
      put_f64(out, nodes_[n].cut);
    }
  }
  put_i32(out, static_cast<int>(free_nodes_.size()));
  for (int n : free_nodes_) put_i32(out, n);
  for (const Slot& s : slots_) {
    put_f64(out, s.key);
    put_u64(out, static_cast<uint64_t>(s.seq));
    put_i32(out, s.leaf);
  }
  put_i32(out, static_cast<int>(heap_.size()));
  for (int s : heap_) put_i32(out, s);
  put_i32(out, static_cast<int>(free_slots_.size()));
  for (int s : free_slots_) put_i32(out, s);
}

// Sets parents and boxes under n, checking that the nodes form a tree with consistent masses.
bool RandomCutForest::Tree::rebuild(int n, int depth, int64_t& mass) {
  if (depth > capacity_ || nodes_[n].mass <= 0) return false;
  if (nodes_[n].child[0] < 0) {
    mass += nodes_[n].mass;
    std::copy(box_lo(n), box_lo(n) + dim_, box_hi(n));
    return true;
  }
  const int l = nodes_[n].child[0], r = nodes_[n].child[1];
  if (l == r || nodes_[l].parent != -2 || nodes_[r].parent != -2) return false;  // -2: not yet reached
  nodes_[l].parent = nodes_[r].parent = n;
  if (!rebuild(l, depth + 1, mass) || !rebuild(r, depth + 1, mass)) return false;
  if (nodes_[n].mass != nodes_[l].mass + nodes_[r].mass) return false;
  set_box_from_children(n);
  return true;
}

bool RandomCutForest::Tree::load(std::string_view& in) {
  Unpacker u{in};
  const int nodes = static_cast<int>(nodes_.size());
  for (auto& x : rng_.s) x = u.u64();
  root_ = u.i32();
  mass_total_ = static_cast<int64_t>(u.u64());
  if (root_ < -1 || root_ >= nodes || mass_total_ < 0 || mass_total_ > capacity_) return false;
  int used = 0;
  for (int n = 0; n < nodes && u.ok; ++n) {
    nodes_[n].parent = -2;
    switch (u.u8()) {
      case 0:
        nodes_[n].mass = 0;
        nodes_[n].child[0] = nodes_[n].child[1] = -1;
        break;
      case 1:
        ++used;
        nodes_[n].child[0] = nodes_[n].child[1] = -1;
        nodes_[n].mass = u.id(1, capacity_ + 1);
        for (size_t j = 0; j < dim_; ++j) {
          box_lo(n)[j] = u.f64();
          if (!std::isfinite(box_lo(n)[j])) return false;
        }
        break;
      case 2:
        ++used;
        nodes_[n].child[0] = u.id(0, nodes);
        nodes_[n].child[1] = u.id(0, nodes);
        nodes_[n].mass = u.id(2, capacity_ + 1);
        nodes_[n].cut_dim = u.id(0, static_cast<int>(dim_));
        nodes_[n].cut = u.f64();
        if (!std::isfinite(nodes_[n].cut)) return false;
        break;
      default:
        return false;
    }
  }
  std::vector<int> free_nodes(u.id(0, nodes + 1));
  for (int& n : free_nodes) n = u.id(0, nodes);
  for (Slot& s : slots_) {
    s.key = u.f64();
    s.seq = static_cast<int64_t>(u.u64());
    s.leaf = u.id(-1, nodes);
  }
  std::vector<int> heap(u.id(0, capacity_ + 1));
  for (int& s : heap) s = u.id(0, capacity_);
  std::vector<int> free_slots(u.id(0, capacity_ + 1));
  for (int& s : free_slots) s = u.id(0, capacity_);
  if (!u.ok) return false;
  in = u.in;

  // The tree: every used node reached once from the root, the free ones listed once.
  int64_t mass = 0;
  if (root_ >= 0) {
    nodes_[root_].parent = -1;
    if (!rebuild(root_, 0, mass)) return false;
  }
  if (mass != mass_total_ || static_cast<int>(free_nodes.size()) + used != nodes) return false;
  for (int n = 0; n < nodes; ++n) {
    if ((nodes_[n].mass > 0) != (nodes_[n].parent != -2)) return false;  // used iff reached
  }
  for (int n : free_nodes) {
    if (nodes_[n].mass != 0 || nodes_[n].parent != -2) return false;
    nodes_[n].parent = -3;  // listed
  }
  for (int n = 0; n < nodes; ++n) {
    if (nodes_[n].parent <= -2) nodes_[n].parent = -1;
  }
  // The sample: the used slots are the heap's, each a unit of its leaf's mass.
  std::vector<int> refs(nodes, 0);
  heap_pos_.assign(capacity_, -1);
  for (size_t i = 0; i < heap.size(); ++i) {
    const int s = heap[i];
    if (heap_pos_[s] >= 0 || slots_[s].seq < 0 || !std::isfinite(slots_[s].key) || slots_[s].leaf < 0 ||
        nodes_[slots_[s].leaf].mass == 0 || nodes_[slots_[s].leaf].child[0] >= 0) {
      return false;
    }
    heap_pos_[s] = static_cast<int>(i);
    ++refs[slots_[s].leaf];
  }
  for (int s : free_slots) {
    if (heap_pos_[s] != -1 || slots_[s].seq != -1) return false;
    heap_pos_[s] = -2;
  }
  if (heap.size() + free_slots.size() != static_cast<size_t>(capacity_)) return false;
  for (int n = 0; n < nodes; ++n) {
    if (nodes_[n].child[0] < 0 && nodes_[n].mass != refs[n]) return false;
  }
  for (int& p : heap_pos_) p = p == -2 ? -1 : p;
  free_nodes_ = std::move(free_nodes);
  heap_ = std::move(heap);
  free_slots_ = std::move(free_slots);
  std::vector<std::pair<int64_t, int>> ages;
  for (int s : heap_) ages.emplace_back(slots_[s].seq, s);
  std::sort(ages.begin(), ages.end());
  by_age_.assign(ages.begin(), ages.end());
  return true;
}

// ---- Forest -----------------------------------------------------------------------------------

RandomCutForest::RandomCutForest(size_t dims, RcfOptions options) : dims_(dims), options_(options) {
  if (dims == 0 || options.trees < 1 || options.sample_size < 1 || options.time_decay < 1 || options.shingle_size < 1) {
    throw std::invalid_argument(
        "random cut forest: dimensions, trees, sample size, time decay and shingle size must "
        "be positive");
  }
  const size_t dim = dims * static_cast<size_t>(options.shingle_size);
  uint64_t seeds = options.seed;
  trees_.resize(static_cast<size_t>(options.trees));
  for (Tree& t : trees_) t.init(dim, options.sample_size, splitmix64(seeds));
}

bool RandomCutForest::shingle(const std::vector<double>& point, std::vector<double>& out) const {
  if (recent_.size() < (static_cast<size_t>(options_.shingle_size) - 1) * dims_) return false;
  out.assign(recent_.begin(), recent_.end());
  out.insert(out.end(), point.begin(), point.end());
  return true;
}

double RandomCutForest::explain(const std::vector<double>& point, Explanation* out) const {
  if (out) {
    out->attribution.assign(dims_, 0);
    out->high.assign(dims_, 0);
    out->low.assign(dims_, 0);
  }
  if (point.size() != dims_ || !all_finite(point) || seen_ < options_.sample_size) return 0;
  std::vector<double> p;
  if (!shingle(point, p)) return 0;
  const size_t dim = p.size();
  // scratch_: one tree's high and low parts, then the sums over trees
  scratch_.assign(4 * dim, 0);
  double* th = scratch_.data();
  double* tl = th + dim;
  double* sh = tl + dim;
  double* sl = sh + dim;
  double total = 0;
  for (const Tree& t : trees_) {
    total += t.score(p.data(), out ? th : nullptr, out ? tl : nullptr, path_);
    if (out) {
      for (size_t j = 0; j < dim; ++j) {
        sh[j] += th[j];
        sl[j] += tl[j];
      }
    }
  }
  const double n = static_cast<double>(trees_.size());
  if (out) {
    for (size_t j = 0; j < dim; ++j) {
      out->high[j % dims_] += sh[j] / n;
      out->low[j % dims_] += sl[j] / n;
    }
    for (size_t k = 0; k < dims_; ++k) out->attribution[k] = out->high[k] + out->low[k];
  }
  return total / n;
}

void RandomCutForest::update(const std::vector<double>& point) {
  if (point.size() != dims_ || !all_finite(point)) return;
  std::vector<double> p;
  if (shingle(point, p)) {
    ++seen_;
    for (Tree& t : trees_) t.offer(p.data(), seen_, options_.time_decay);
  }
  if (options_.shingle_size > 1) {
    recent_.insert(recent_.end(), point.begin(), point.end());
    const size_t keep = (static_cast<size_t>(options_.shingle_size) - 1) * dims_;
    if (recent_.size() > keep) recent_.erase(recent_.begin(), recent_.begin() + (recent_.size() - keep));
  }
}

double RandomCutForest::score_and_update(const std::vector<double>& point, Explanation* out) {
  const double s = explain(point, out);
  update(point);
  return s;
}

void RandomCutForest::save(StateWriter& w) const {
  w.u64(kStateVersion);
  w.u64(dims_);
  w.i64(options_.trees);
  w.i64(options_.sample_size);
  w.i64(options_.time_decay);
  w.i64(options_.shingle_size);
  w.u64(options_.seed);
  w.i64(seen_);
  w.u64(recent_.size());
  for (double v : recent_) w.f64(v);
  std::string blob;
  for (const Tree& t : trees_) {
    blob.clear();
    t.save(blob);
    w.str(blob);
  }
}

bool RandomCutForest::load(StateReader& r) {
  if (r.u64() != kStateVersion || r.u64() != dims_ || r.i64() != options_.trees || r.i64() != options_.sample_size ||
      r.i64() != options_.time_decay || r.i64() != options_.shingle_size || r.u64() != options_.seed) {
    r.fail();
    return false;
  }
  const int64_t seen = r.i64();
  std::vector<double> recent(r.count(8));
  for (double& v : recent) v = r.f64();
  if (!r.ok() || seen < 0 || recent.size() % dims_ != 0 ||
      recent.size() > (static_cast<size_t>(options_.shingle_size) - 1) * dims_) {
    r.fail();
    return false;
  }
  // Into fresh trees, so that a refused blob leaves this forest as it was.
  std::vector<Tree> trees(trees_.size());
  const size_t dim = dims_ * static_cast<size_t>(options_.shingle_size);
  for (Tree& t : trees) {
    t.init(dim, options_.sample_size, 0);
    const std::string blob = r.str();
    std::string_view in = blob;
    if (!r.ok() || !t.load(in) || !in.empty()) {
      r.fail();
      return false;
    }
  }
  trees_ = std::move(trees);
  recent_ = std::move(recent);
  seen_ = seen;
  return true;
}

// ---- Output -----------------------------------------------------------------------------------

namespace {

void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_fixed4(std::string& out, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  out += buf;
}

}  // namespace

std::string anomaly_explanation_json(const std::vector<std::string>& columns, const RandomCutForest::Explanation& e,
                                     bool with_directionality) {
  auto at = [](const std::vector<double>& v, size_t i) { return i < v.size() ? v[i] : 0.0; };
  std::string out = "{";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, columns[i]);
    out += ":{";
    if (with_directionality) {
      const double high = at(e.high, i), low = at(e.low, i);
      out += high > low ? "\"DIRECTION\":\"HIGH\"" : "\"DIRECTION\":\"LOW\"";
      out += ",\"STRENGTH\":\"";
      append_fixed4(out, std::fabs(high - low));
      out += "\",";
    }
    out += "\"ATTRIBUTION_SCORE\":\"";
    append_fixed4(out, at(e.attribution, i));
    out += "\"}";
  }
  out += '}';
  return out;
}

}  // namespace eddy::runtime
