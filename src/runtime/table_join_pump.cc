// A stream joined with a reference table (sqlref/sql-reference-join-clause, stream-to-table): each
// row meets the table's rows whose keys equal its own, in the table's order, and goes out once per
// match as the row's columns followed by the table row's, with the row's ROWTIME; a LEFT join
// sends an unmatched row out once with NULLs for the table. NULL keys match nothing, as in SQL.
// The table does not change while the application runs, so the pump keeps no state.
#include "runtime/group_index.h"
#include "runtime/pump_internal.h"
#include "runtime/reference_table.h"

namespace eddy::runtime {
namespace {

class TableJoinPump final : public Pump {
 public:
  using Pump::Pump;

  void on_row(const Row& row) override {
    const TableJoinSpec& j = plan_->join;
    const ReferenceTable* table = j.slot && j.slot->table ? j.slot->table.get() : nullptr;
    if (table != indexed_) build_index(table);
    const auto ctx = context(row);
    bool matched = false;
    if (table) {
      size_t begin = 0, end = table->rows.size();
      if (!j.stream_keys.empty()) {
        if (!eval_all(j.stream_keys, ctx, keys_, row, error_)) return;
        begin = end = 0;
        bool null_key = false;
        for (const auto& k : keys_) null_key |= k.is_null();
        if (!null_key) {
          if (const Bucket* b = find(keys_)) begin = b->first, end = b->first + b->count;
        }
      }
      for (size_t r = begin; r < end; ++r) {
        fill(row, r);
        if (j.condition) {
          Value ok;
          if (auto st = j.condition->eval(context(joined_), ok); !st) return error_(row, st.error());
          if (ok.is_null() || ok.i == 0) continue;
        }
        matched = true;
        emit_(joined_);
      }
    }
    if (!matched && j.left_outer) {
      fill(row, kNoRow);
      emit_(joined_);
    }
  }
  bool waits_for_time() const override { return false; }
  TimestampMs due() const override { return INT64_MAX; }

 private:
  static constexpr size_t kNoRow = SIZE_MAX;

  // The rows of one key: flat_ rows [first, first + count), in the table's order.
  struct Bucket {
    uint64_t hash = 0;
    uint32_t first = 0;
    uint32_t count = 0;  // 0: an empty bucket
  };

  // The joined row: the stream row's columns, then flat_ row `r`'s (NULLs for kNoRow).
  void fill(const Row& row, size_t r) {
    const TableJoinSpec& j = plan_->join;
    joined_.rowtime = row.rowtime;
    joined_.origin = row.origin;
    joined_.shard = row.shard;
    joined_.values.resize(j.stream_width + j.table_width);
    for (size_t i = 0; i < j.stream_width; ++i) joined_.values[i].set(row.values[i]);
    const Value* cells = r == kNoRow ? nullptr : &flat_[r * j.table_width];
    for (size_t i = 0; i < j.table_width; ++i) {
      if (cells)
        joined_.values[j.stream_width + i].set(cells[i]);
      else
        joined_.values[j.stream_width + i] = Value::null();
    }
  }

  // The key's bucket, or null. A key that is a plain column of the table is compared with the
  // first row's cell, which the match reads next anyway: a lookup is then the bucket and the row,
  // two places in memory (the benchmark's 100,000-row table is far larger than the caches, and a
  // profile had the lookup's chain of five dependent reads as a third of the run).
  const Bucket* find(const std::vector<Value>& keys) const {
    if (buckets_.empty()) return nullptr;
    const size_t n = keys.size();
    const uint64_t h = GroupIndex::hash(n, [&](size_t k) -> const Value& { return keys[k]; });
    const size_t width = plan_->join.table_width;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Bucket& b = buckets_[i];
      if (b.count == 0) return nullptr;
      if (b.hash != h) continue;
      bool same = true;
      for (size_t k = 0; same && k < n; ++k) {
        const Value& at = key_columns_[k] >= 0 ? flat_[b.first * width + static_cast<size_t>(key_columns_[k])]
                                               : flat_keys_[b.first * n + k];
        same = at == keys[k];
      }
      if (same) return &b;
    }
  }

  // The table's cells in one array (a match reads one contiguous row). With keys, the rows are
  // grouped by key (each key's rows together, in the table's order; rows whose key does not
  // evaluate or is NULL never match and are left out), and buckets_ finds a key's rows.
  void build_index(const ReferenceTable* table) {
    indexed_ = table;
    flat_.clear();
    flat_keys_.clear();
    buckets_.clear();
    key_columns_.clear();
    if (!table) return;
    const TableJoinSpec& j = plan_->join;
    if (j.table_keys.empty()) {
      flat_.reserve(table->rows.size() * j.table_width);
      for (const Row& r : table->rows) {
        for (size_t i = 0; i < j.table_width; ++i) flat_.push_back(r.values[i]);
      }
      return;
    }
    const size_t n = j.table_keys.size();
    bool all_columns = true;
    for (const auto& k : j.table_keys) {
      const int c = k->column_index();
      key_columns_.push_back(c >= 0 && static_cast<size_t>(c) < j.table_width ? c : -1);
      all_columns = all_columns && key_columns_.back() >= 0;
    }
    // Each usable row's key group, in order of first appearance.
    GroupIndex groups;
    std::vector<Value> keys(n), group_keys;
    std::vector<size_t> group_of(table->rows.size(), GroupIndex::npos), counts;
    for (size_t r = 0; r < table->rows.size(); ++r) {
      EvalContext ctx = context(table->rows[r]);
      bool usable = true;
      for (size_t k = 0; k < n && usable; ++k) usable = j.table_keys[k]->eval(ctx, keys[k]) && !keys[k].is_null();
      if (!usable) continue;
      size_t g = groups.find(keys);
      if (g == GroupIndex::npos) {
        g = counts.size();
        groups.emplace(keys, g);
        counts.push_back(0);
        group_keys.insert(group_keys.end(), keys.begin(), keys.end());
      }
      group_of[r] = g;
      ++counts[g];
    }
    std::vector<size_t> first(counts.size() + 1, 0);
    for (size_t g = 0; g < counts.size(); ++g) first[g + 1] = first[g] + counts[g];
    const size_t rows = first.back();
    flat_.resize(rows * j.table_width);
    if (!all_columns) flat_keys_.resize(rows * n);
    std::vector<size_t> next(first.begin(), first.end() - 1);
    for (size_t r = 0; r < group_of.size(); ++r) {
      const size_t g = group_of[r];
      if (g == GroupIndex::npos) continue;
      const size_t at = next[g]++;
      for (size_t i = 0; i < j.table_width; ++i) flat_[at * j.table_width + i] = table->rows[r].values[i];
      if (!all_columns) {
        for (size_t k = 0; k < n; ++k) flat_keys_[at * n + k] = group_keys[g * n + k];
      }
    }
    size_t slots = 16;
    while (slots * 3 < counts.size() * 4) slots *= 2;  // at most 3/4 full
    buckets_.assign(slots, Bucket{});
    mask_ = slots - 1;
    for (size_t g = 0; g < counts.size(); ++g) {
      const uint64_t h = GroupIndex::hash(n, [&](size_t k) -> const Value& { return group_keys[g * n + k]; });
      size_t i = h & mask_;
      while (buckets_[i].count != 0) i = (i + 1) & mask_;
      buckets_[i] = {h, static_cast<uint32_t>(first[g]), static_cast<uint32_t>(counts[g])};
    }
  }

  const ReferenceTable* indexed_ = nullptr;
  std::vector<Value> flat_;       // table_width cells per row
  std::vector<Value> flat_keys_;  // the key of each flat_ row, when some key is not a plain column
  std::vector<int> key_columns_;  // table key k is column key_columns_[k] of a row, or -1
  std::vector<Bucket> buckets_;   // a power of two long
  size_t mask_ = 0;
  std::vector<Value> keys_;
  Row joined_;
};

}  // namespace

std::unique_ptr<Pump> make_table_join_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                           const Clock& clock) {
  return std::make_unique<TableJoinPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
