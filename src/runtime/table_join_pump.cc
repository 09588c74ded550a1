// A stream joined with a reference table (sqlref/sql-reference-join-clause, stream-to-table): each
// row meets the table's rows whose keys equal its own, in the table's order, and goes out once per
// match as the row's columns followed by the table row's, with the row's ROWTIME; a LEFT join
// sends an unmatched row out once with NULLs for the table. NULL keys match nothing, as in SQL.
// The table does not change while the application runs, so the pump keeps no state.
#include <unordered_map>

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
      const std::vector<size_t>* candidates = &all_;
      if (!j.stream_keys.empty()) {
        if (!eval_all(j.stream_keys, ctx, keys_, row, error_)) return;
        candidates = nullptr;
        bool null_key = false;
        for (const auto& k : keys_) null_key |= k.is_null();
        if (!null_key) {
          auto it = index_.find(keys_);
          if (it != index_.end()) candidates = &it->second;
        }
      }
      if (candidates) {
        for (size_t r : *candidates) {
          fill(row, &table->rows[r]);
          if (j.condition) {
            Value ok;
            if (auto st = j.condition->eval(context(joined_), ok); !st) return error_(row, st.error());
            if (ok.is_null() || ok.i == 0) continue;
          }
          matched = true;
          emit_(joined_);
        }
      }
    }
    if (!matched && j.left_outer) {
      fill(row, nullptr);
      emit_(joined_);
    }
  }
  bool waits_for_time() const override { return false; }
  TimestampMs due() const override { return INT64_MAX; }

 private:
  void fill(const Row& row, const Row* table_row) {
    const TableJoinSpec& j = plan_->join;
    joined_.rowtime = row.rowtime;
    joined_.origin = row.origin;
    joined_.shard = row.shard;
    joined_.values.resize(j.stream_width + j.table_width);
    for (size_t i = 0; i < j.stream_width; ++i) joined_.values[i] = row.values[i];
    for (size_t i = 0; i < j.table_width; ++i)
      joined_.values[j.stream_width + i] = table_row ? table_row->values[i] : Value::null();
  }

  // The table's rows by their keys, in table order; rows whose key does not evaluate (or is NULL)
  // can never match and are left out.
  void build_index(const ReferenceTable* table) {
    indexed_ = table;
    index_.clear();
    all_.clear();
    if (!table) return;
    const TableJoinSpec& j = plan_->join;
    std::vector<Value> keys(j.table_keys.size());
    for (size_t r = 0; r < table->rows.size(); ++r) {
      all_.push_back(r);
      if (j.table_keys.empty()) continue;
      EvalContext ctx = context(table->rows[r]);
      bool usable = true;
      for (size_t k = 0; k < keys.size() && usable; ++k)
        usable = j.table_keys[k]->eval(ctx, keys[k]) && !keys[k].is_null();
      if (usable) index_[keys].push_back(r);
    }
  }

  const ReferenceTable* indexed_ = nullptr;
  std::unordered_map<std::vector<Value>, std::vector<size_t>, RowKeyHash> index_;
  std::vector<size_t> all_;
  std::vector<Value> keys_;
  Row joined_;
};

}  // namespace

std::unique_ptr<Pump> make_table_join_pump(std::shared_ptr<const PumpPlan> plan, EmitFn emit, ErrorFn error,
                                           const Clock& clock) {
  return std::make_unique<TableJoinPump>(std::move(plan), std::move(emit), std::move(error), clock);
}

}  // namespace eddy::runtime
