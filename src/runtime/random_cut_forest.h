// Random Cut Forest anomaly scores for KDA's RANDOM_CUT_FOREST and RANDOM_CUT_FOREST_WITH_EXPLANATION
// (Guha et al. 2016, "Robust random cut forest based anomaly detection on streams").
//
// Each tree keeps a time-decayed sample of up to sample_size (shingled) points and a random cut tree
// over them: a cut picks its dimension in proportion to the side lengths of the box it cuts, and its
// value uniformly along that side, so a tree is distributed as if built afresh on its sample. Points
// enter and leave a tree one at a time (insert and delete are O(depth)).
//
// Sampling: a point arriving at time t (the count of shingles so far) gets the key
// log(-log u) - t / time_decay, u uniform in (0,1); a tree keeps the sample_size smallest keys. This
// is Efraimidis-Spirakis weighted reservoir sampling with weights e^(t/time_decay): newer points are
// exponentially more likely to be kept, and older ones more likely to be removed, as the page says.
// Points older than time_decay are dropped outright ("uses only the most recent timeDecay records").
//
// Score (the one AWS's RCF computes, whose scale the dev guide's outputs show: ~0.7 typical, ~4 for
// a clear outlier): for one tree, walk the point down to the leaf it would land on, at depth d. If
// the point is that leaf's point (mass m), the score is (1 - m/2n) / (d + log2(1+m)), n the tree's
// mass; otherwise 1/(d+1). Then back up to the root: at a node of depth k whose box does not hold
// the point, a random cut of the box grown to hold it separates the point with probability p (the
// grown length over the grown box's total side length), making it a leaf at depth k+1, so
// score = p/(k+1) + (1-p)*score. The tree's score is that times log2(1+n), so that it is the
// inverse of a depth relative to log2 of the sample size; the forest's score is the mean of its
// trees'. Scores are 0 while fewer than sample_size shingles have been seen (the learning phase).
//
// Attribution: the same recursion with p split by dimension and side: at each node, the part of p
// from the point lying above the box in dimension i (x_i > hi_i) goes to high[i], below to low[i];
// at a leaf the split is by |x_i - leaf_i|. Since the parts sum to p at every step, the attributions
// over all dimensions and sides sum to the score exactly (up to rounding). With shingles, the
// shingle's coordinates of one input column are summed into that column.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eddy::runtime {

class StateWriter;
class StateReader;

struct RcfOptions {
  int trees = 100;
  int sample_size = 256;
  int64_t time_decay = 100000;
  int shingle_size = 1;
  uint64_t seed = 0;
};

class RandomCutForest {
 public:
  // Per input dimension (a column; shingle positions summed).
  struct Explanation {
    std::vector<double> attribution;  // high + low: sums to the score
    std::vector<double> high, low;    // the parts from the value lying above / below what the trees hold
  };

  // `dims`: the input columns (the forest's points have dims * shingle_size coordinates). Throws
  // std::invalid_argument unless dims and every option but the seed are positive; the SQL
  // functions' narrower ranges are the caller's to check.
  RandomCutForest(size_t dims, RcfOptions options);

  size_t dims() const { return dims_; }
  const RcfOptions& options() const { return options_; }
  // Shingles learnt so far; scores are 0 until this reaches sample_size.
  int64_t seen() const { return seen_; }

  // The score of the shingle `point` would complete, against the forest as it is (nothing learnt).
  // Scoring uses scratch space in the forest: one caller at a time.
  double score(const std::vector<double>& point) const { return explain(point, nullptr); }
  // The same with its explanation (zeros while there is no score).
  double explain(const std::vector<double>& point, Explanation* out) const;
  // Scores `point` as above, then learns it. A point with a non-finite value scores 0 and is
  // neither learnt nor shingled.
  double score_and_update(const std::vector<double>& point, Explanation* out = nullptr);
  void update(const std::vector<double>& point);

  // The exact state: a forest loaded from it (built with the same dims and options) continues
  // the stream with bit-identical scores. load() returns false on a blob that does not fit.
  void save(StateWriter& w) const;
  bool load(StateReader& r);

 private:
  struct Rng {
    uint64_t s[4];
    void seed(uint64_t v);
    uint64_t next();
    double uniform();  // in (0, 1)
  };

  // One random cut tree and its sample. Nodes live in an array (ids < 2*sample_size - 1), a
  // leaf's point as a degenerate box (lo == hi).
  class Tree {
   public:
    void init(size_t dim, int sample_size, uint64_t seed);
    // Offers the point learnt at time t to the sample; inserts it if kept.
    void offer(const double* p, int64_t t, int64_t time_decay);
    // The normalized score; sets high/low to the normalized attribution parts when not null.
    double score(const double* p, double* high, double* low, std::vector<int>& path) const;
    void save(std::string& out) const;
    bool load(std::string_view& in);

   private:
    struct Slot {
      double key = 0;
      int64_t seq = -1;  // -1: free
      int leaf = -1;
    };
    int insert(const double* p);
    void remove(int leaf);
    int new_node();
    void set_box_from_children(int n);
    void replace_child(int parent, int old_child, int new_child);
    bool heap_less(int a, int b) const;
    void heap_up(size_t i);
    void heap_down(size_t i);
    void heap_erase(int slot);
    void evict(int slot);
    bool rebuild(int n, int depth, int64_t& mass);

    // One node in 32 bytes: a descent touches one cache line a level.
    struct Node {
      int child[2] = {-1, -1};  // x[cut_dim] <= cut goes to child[0]; -1: a leaf
      int parent = -1;
      int mass = 0;  // 0: free
      int cut_dim = 0;
      double cut = 0;
    };
    double* box_lo(int n) { return &box_[static_cast<size_t>(n) * 2 * dim_]; }
    double* box_hi(int n) { return box_lo(n) + dim_; }
    const double* box_lo(int n) const { return &box_[static_cast<size_t>(n) * 2 * dim_]; }
    const double* box_hi(int n) const { return box_lo(n) + dim_; }

    size_t dim_ = 0;
    int capacity_ = 0;  // sample_size
    Rng rng_{};
    int root_ = -1;
    std::vector<Node> nodes_;
    std::vector<double> box_;  // per node: lo[dim_] then hi[dim_] (a leaf: its point twice)
    std::vector<int> free_nodes_;
    std::vector<Slot> slots_;
    std::vector<int> heap_;      // slots by key, largest first
    std::vector<int> heap_pos_;  // slot -> position in heap_
    std::vector<int> free_slots_;
    int64_t mass_total_ = 0;
    std::deque<std::pair<int64_t, int>> by_age_;  // (seq, slot) as inserted; stale entries skipped
  };

  bool shingle(const std::vector<double>& point, std::vector<double>& out) const;

  size_t dims_;
  RcfOptions options_;
  std::vector<Tree> trees_;
  std::vector<double> recent_;  // the last shingle_size - 1 inputs, oldest first
  int64_t seen_ = 0;
  mutable std::vector<int> path_;
  mutable std::vector<double> scratch_;
};

// ANOMALY_EXPLANATION's JSON as the dev guide shows it, one member per column in order:
// {"col":{"ATTRIBUTION_SCORE":"0.3792"}}, or with directionality
// {"col":{"DIRECTION":"HIGH","STRENGTH":"0.0922","ATTRIBUTION_SCORE":"0.3792"}}. DIRECTION is HIGH
// when the high part exceeds the low part (LOW otherwise, as in the learning phase); STRENGTH is
// |high - low|, 0 in the learning phase (the pages do not define it further).
std::string anomaly_explanation_json(const std::vector<std::string>& columns, const RandomCutForest::Explanation& e,
                                     bool with_directionality);

}  // namespace eddy::runtime
