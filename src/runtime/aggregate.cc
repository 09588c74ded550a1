#include "runtime/aggregate.h"

#include <cmath>

#include "runtime/state_codec.h"

namespace eddy::runtime {

SqlType aggregate_result_type(AggregateKind kind, const SqlType& arg) {
  switch (kind) {
    case AggregateKind::kCountStar:
    case AggregateKind::kCount:
      return SqlType::of(TypeId::kBigint);
    case AggregateKind::kSum:
      if (arg.is_integer()) return SqlType::of(TypeId::kBigint);
      if (arg.id == TypeId::kDecimal) return SqlType::decimal(18, arg.scale);
      return arg;
    case AggregateKind::kAvg:
      return arg;
    case AggregateKind::kStddevPop:
    case AggregateKind::kStddevSamp:
    case AggregateKind::kVarPop:
    case AggregateKind::kVarSamp:
      return SqlType::of(TypeId::kDouble);
    case AggregateKind::kAny:
    case AggregateKind::kEvery:
      return SqlType::of(TypeId::kBoolean);
    case AggregateKind::kExpAvg:
      return arg.is_approx() ? arg : SqlType::of(TypeId::kDouble);
    default:
      return arg;
  }
}

void Accumulator::add(const Value& v, const SqlType& t, AggregateKind kind) {
  if (kind == AggregateKind::kFirstValueNulls || kind == AggregateKind::kLastValueNulls) {
    if (count_star_++ == 0 || kind == AggregateKind::kLastValueNulls)
      (kind == AggregateKind::kFirstValueNulls ? first_ : last_) = v;
    return;
  }
  if (v.is_null()) return;
  ++count_;
  switch (kind) {
    case AggregateKind::kCountStar:
    case AggregateKind::kCount:
      return;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      if (t.id == TypeId::kReal) {
        fsum_ += static_cast<float>(v.d);
      } else if (t.is_approx()) {
        dsum_ += v.d;
      } else if (t.is_numeric() || t.is_interval()) {
        isum_ += v.i;
      }
      return;
    case AggregateKind::kMin:
      if (min_.is_null() || compare_values(v, min_) < 0) min_ = v;
      return;
    case AggregateKind::kMax:
      if (max_.is_null() || compare_values(v, max_) > 0) max_ = v;
      return;
    case AggregateKind::kFirstValue:
      if (count_ == 1) first_ = v;
      return;
    case AggregateKind::kLastValue:
      last_ = v;
      return;
    case AggregateKind::kAny:
    case AggregateKind::kEvery:
      isum_ += v.i != 0;  // TRUE rows
      return;
    case AggregateKind::kFirstValueNulls:
    case AggregateKind::kLastValueNulls:
    case AggregateKind::kLag:
    case AggregateKind::kNthValue:
    case AggregateKind::kExpAvg:
      return;
    case AggregateKind::kStddevPop:
    case AggregateKind::kStddevSamp:
    case AggregateKind::kVarPop:
    case AggregateKind::kVarSamp:
      if (t.is_numeric()) {
        const double x = t.is_approx()              ? v.d
                         : t.id == TypeId::kDecimal ? static_cast<double>(v.i) / static_cast<double>(pow10(t.scale))
                                                    : static_cast<double>(v.i);
        const double delta = x - mean_;
        mean_ += delta / static_cast<double>(count_);
        m2_ += delta * (x - mean_);
      }
      return;
  }
}

void Accumulator::merge(const Accumulator& o, const SqlType& t, AggregateKind kind) {
  if (kind == AggregateKind::kFirstValueNulls && count_star_ == 0 && o.count_star_ > 0) first_ = o.first_;
  if (kind == AggregateKind::kLastValueNulls && o.count_star_ > 0) last_ = o.last_;
  count_star_ += o.count_star_;
  if (o.count_ == 0) return;
  const int64_t before = count_;
  count_ += o.count_;
  switch (kind) {
    case AggregateKind::kCountStar:
    case AggregateKind::kCount:
      return;
    case AggregateKind::kSum:
    case AggregateKind::kAvg:
      fsum_ += o.fsum_;
      dsum_ += o.dsum_;
      isum_ += o.isum_;
      return;
    case AggregateKind::kMin:
      if (min_.is_null() || compare_values(o.min_, min_) < 0) min_ = o.min_;
      return;
    case AggregateKind::kMax:
      if (max_.is_null() || compare_values(o.max_, max_) > 0) max_ = o.max_;
      return;
    case AggregateKind::kFirstValue:
      if (before == 0) first_ = o.first_;
      return;
    case AggregateKind::kLastValue:
      last_ = o.last_;
      return;
    case AggregateKind::kAny:
    case AggregateKind::kEvery:
      isum_ += o.isum_;
      return;
    case AggregateKind::kFirstValueNulls:
    case AggregateKind::kLastValueNulls:
    case AggregateKind::kLag:
    case AggregateKind::kNthValue:
    case AggregateKind::kExpAvg:
      return;
    case AggregateKind::kStddevPop:
    case AggregateKind::kStddevSamp:
    case AggregateKind::kVarPop:
    case AggregateKind::kVarSamp: {
      // Chan et al.'s pairwise combination of two Welford states.
      const double na = static_cast<double>(before), nb = static_cast<double>(o.count_), n = na + nb;
      const double delta = o.mean_ - mean_;
      mean_ += delta * nb / n;
      m2_ += o.m2_ + delta * delta * na * nb / n;
      return;
    }
  }
  (void)t;
}

Value Accumulator::result(AggregateKind kind, const SqlType& t, const SqlType& result_type) const {
  switch (kind) {
    case AggregateKind::kCountStar:
      return Value::integer(count_star_);
    case AggregateKind::kCount:
      return Value::integer(count_);
    case AggregateKind::kMin:
      return min_;
    case AggregateKind::kMax:
      return max_;
    case AggregateKind::kFirstValue:
    case AggregateKind::kFirstValueNulls:
      return first_;
    case AggregateKind::kLastValue:
    case AggregateKind::kLastValueNulls:
      return last_;
    default:
      break;
  }
  if (count_ == 0) return Value::null();
  if (kind == AggregateKind::kAny) return Value::boolean(isum_ > 0);
  if (kind == AggregateKind::kEvery) return Value::boolean(isum_ == count_);
  switch (kind) {
    case AggregateKind::kSum:
      if (t.id == TypeId::kReal) return Value::real(fsum_);
      if (t.is_approx()) return Value::real(dsum_);
      return Value::integer(static_cast<int64_t>(isum_));
    case AggregateKind::kAvg:
      if (t.id == TypeId::kReal) return Value::real(static_cast<float>(fsum_ / static_cast<float>(count_)));
      if (t.is_approx()) return Value::real(dsum_ / static_cast<double>(count_));
      // Integer AVG truncates toward zero (decisions.md 7); DECIMAL keeps its scale.
      return Value::integer(static_cast<int64_t>(isum_ / count_));
    case AggregateKind::kVarPop:
      return Value::real(m2_ / static_cast<double>(count_));
    case AggregateKind::kStddevPop:
      return Value::real(std::sqrt(m2_ / static_cast<double>(count_)));
    case AggregateKind::kVarSamp:
      return count_ < 2 ? Value::null() : Value::real(m2_ / static_cast<double>(count_ - 1));
    case AggregateKind::kStddevSamp:
      return count_ < 2 ? Value::null() : Value::real(std::sqrt(m2_ / static_cast<double>(count_ - 1)));
    default:
      break;
  }
  (void)result_type;
  return Value::null();
}

void Accumulator::save(StateWriter& w) const {
  w.i64(count_star_);
  w.i64(count_);
  w.i128(isum_);
  w.f64(dsum_);
  w.f64(fsum_);
  w.f64(mean_);
  w.f64(m2_);
  w.value(min_);
  w.value(max_);
  w.value(first_);
  w.value(last_);
}

void Accumulator::load(StateReader& r) {
  count_star_ = r.i64();
  count_ = r.i64();
  isum_ = r.i128();
  dsum_ = r.f64();
  fsum_ = static_cast<float>(r.f64());
  mean_ = r.f64();
  m2_ = r.f64();
  min_ = r.value();
  max_ = r.value();
  first_ = r.value();
  last_ = r.value();
}

}  // namespace eddy::runtime
