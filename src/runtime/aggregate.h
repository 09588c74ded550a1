// Aggregate functions: an accumulator per group (tumbling, stagger) or per window evaluation
// (sliding). NULL inputs are ignored except by COUNT(*) (sqlref/sql-reference-aggregate-functions).
#pragma once

#include <string>
#include <vector>

#include "runtime/expr.h"

namespace eddy::runtime {

class StateWriter;
class StateReader;

enum class AggregateKind {
  kCountStar,
  kCount,
  kSum,
  kAvg,
  kMin,
  kMax,
  kFirstValue,
  kLastValue,
  kStddevPop,
  kStddevSamp,
  kVarPop,
  kVarSamp,
  kAny,    // BOOLEAN: TRUE in any non-NULL row
  kEvery,  // BOOLEAN: TRUE in every non-NULL row
  // FIRST_VALUE / LAST_VALUE RESPECT NULLS (KDA's default): the first or last row's value, NULL
  // or not. kFirstValue / kLastValue keep the first or last non-NULL one (IGNORE NULLS).
  kFirstValueNulls,
  kLastValueNulls,
  // Analytic functions of a sliding window's rows (OVER only): sliding_pump.cc reads them.
  kLag,       // the value `offset` rows before the current one
  kNthValue,  // the offset-th value from the window's first (or last) row
  kExpAvg     // average weighted by 2^-(age / half_life)
};

// Only in OVER windows: they read the window's rows in order, not an accumulator.
inline bool is_analytic(AggregateKind k) {
  return k == AggregateKind::kLag || k == AggregateKind::kNthValue || k == AggregateKind::kExpAvg;
}

struct AggregateSpec {
  AggregateKind kind;
  ExprPtr arg;          // null for COUNT(*)
  SqlType result_type;  // decisions.md 7: SUM/AVG of integers stay integer; REAL stays REAL
  std::string window;   // sliding windows: which WINDOW this aggregate is OVER ("" = none)
  // Analytic functions: LAG's N and NTH_VALUE's n; NULLs skipped while counting (IGNORE NULLS);
  // NTH_VALUE FROM LAST; EXP_AVG's half-life; LAG's default, evaluated on the current row when no
  // row is that far back in the window.
  int64_t offset = 1;
  bool ignore_nulls = false;
  bool from_last = false;
  int64_t half_life_ms = 0;
  ExprPtr fallback;
};

// Result type of `kind` over an argument of type `arg`.
SqlType aggregate_result_type(AggregateKind kind, const SqlType& arg);

class Accumulator {
 public:
  // Adds `v` for an aggregate of `kind`: only the state that kind reads is kept up to date
  // (a SUM per row must not pay for MIN/MAX copies or the variance's division).
  void add(const Value& v, const SqlType& arg_type, AggregateKind kind);
  void add_row() { ++count_star_; }
  // Adds the rows `later` saw (rows that came after this one's): how window slices combine into
  // windows. Floating-point sums are then summed per slice, as Flink's slicing windows do.
  void merge(const Accumulator& later, const SqlType& arg_type, AggregateKind kind);
  Value result(AggregateKind kind, const SqlType& arg_type, const SqlType& result_type) const;
  // Checkpoints: the whole state, whatever the kind.
  void save(StateWriter& w) const;
  void load(StateReader& r);

 private:
  int64_t count_star_ = 0;
  int64_t count_ = 0;
  __int128 isum_ = 0;         // integers and DECIMAL (unscaled)
  double dsum_ = 0;           // DOUBLE
  float fsum_ = 0;            // REAL: summed as a 32-bit float, as the column's type would be
  double mean_ = 0, m2_ = 0;  // Welford for STDDEV/VAR
  Value min_, max_, first_, last_;
};

}  // namespace eddy::runtime
