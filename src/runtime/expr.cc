// Evaluating bound expressions: columns, constants, arithmetic on numbers, datetimes and
// intervals, comparisons, logic, IN, LIKE, CASE, concatenation and function calls. Casts are in
// cast.cc, SQL functions in sql/functions.cc; a new family of operators goes in its own file.

#include "runtime/expr.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "runtime/cast.h"

namespace eddy::runtime {

namespace {

tl::unexpected<Error> eval_error(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

class ColumnExpr final : public Expr {
 public:
  ColumnExpr(size_t i, SqlType t) : Expr(t), index_(i) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    out.set(ctx.row->values[index_]);
    return {};
  }
  int column_index() const override { return static_cast<int>(index_); }

 private:
  size_t index_;
};

class RowtimeExpr final : public Expr {
 public:
  RowtimeExpr() : Expr(SqlType::of(TypeId::kTimestamp)) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    out.set_int(ctx.row->rowtime);
    return {};
  }
  bool uses_rowtime() const override { return true; }
};

class ConstantExpr final : public Expr {
 public:
  ConstantExpr(Value v, SqlType t) : Expr(t), v_(std::move(v)) {}
  Status eval(const EvalContext&, Value& out) const override {
    out = v_;
    return {};
  }

 private:
  Value v_;
};

class AggregateRefExpr final : public Expr {
 public:
  AggregateRefExpr(size_t i, SqlType t) : Expr(t), index_(i) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    out = (*ctx.aggregates)[index_];
    return {};
  }

 private:
  size_t index_;
};

class KeyRefExpr final : public Expr {
 public:
  KeyRefExpr(size_t i, SqlType t, bool rowtime) : Expr(t), index_(i), rowtime_(rowtime) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    out = (*ctx.keys)[index_];
    return {};
  }
  bool uses_rowtime() const override { return rowtime_; }

 private:
  size_t index_;
  bool rowtime_;
};

class CastExpr final : public Expr {
 public:
  CastExpr(ExprPtr child, SqlType to) : Expr(to), child_(std::move(child)) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value v;
    if (auto st = child_->eval(ctx, v); !st) return st;
    return cast_value(v, child_->type, type, out);
  }
  bool uses_rowtime() const override { return child_->uses_rowtime(); }

 private:
  ExprPtr child_;
};

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

TimestampMs add_months(TimestampMs ts, int64_t months) {
  using namespace std::chrono;
  const auto tp = sys_time<milliseconds>{milliseconds{ts}};
  const auto day_point = floor<days>(tp);
  const auto tod = tp - day_point;
  year_month_day ymd{day_point};
  const auto total =
      static_cast<int64_t>(static_cast<int>(ymd.year())) * 12 + (static_cast<unsigned>(ymd.month()) - 1) + months;
  const year_month ym{year{static_cast<int>(floor_div(total, 12))},
                      month{static_cast<unsigned>(total - floor_div(total, 12) * 12 + 1)}};
  const auto last = year_month_day_last{ym.year(), month_day_last{ym.month()}};
  const day d = std::min(ymd.day(), last.day());
  const auto result = sys_days{year_month_day{ym.year(), ym.month(), d}} + tod;
  return duration_cast<milliseconds>(result.time_since_epoch()).count();
}

class ArithmeticExpr final : public Expr {
 public:
  ArithmeticExpr(char op, ExprPtr a, ExprPtr b, SqlType t) : Expr(t), op_(op), a_(std::move(a)), b_(std::move(b)) {}
  bool uses_rowtime() const override { return a_->uses_rowtime() || b_->uses_rowtime(); }

  Status eval(const EvalContext& ctx, Value& out) const override {
    Value x, y;
    if (auto st = a_->eval(ctx, x); !st) return st;
    if (auto st = b_->eval(ctx, y); !st) return st;
    if (x.is_null() || y.is_null()) {
      out = Value::null();
      return {};
    }
    const SqlType& ta = a_->type;
    const SqlType& tb = b_->type;
    // Datetime and interval arithmetic.
    if (ta.is_datetime() || tb.is_datetime()) {
      const bool months = ta.id == TypeId::kIntervalYearMonth || tb.id == TypeId::kIntervalYearMonth;
      const int64_t base = ta.is_datetime() ? x.i : y.i;
      int64_t delta = ta.is_datetime() ? y.i : x.i;
      if (op_ == '-') delta = -delta;
      int64_t r;
      if (months) {
        r = add_months(type.id == TypeId::kDate ? base * 86400000LL : base, delta);
        if (type.id == TypeId::kDate) r /= 86400000LL;
      } else if (type.id == TypeId::kDate) {
        r = base + floor_div(delta, 86400000LL);
      } else if (type.id == TypeId::kTime) {
        r = ((base + delta) % 86400000LL + 86400000LL) % 86400000LL;
      } else {
        r = base + delta;
      }
      out = Value::integer(r);
      return {};
    }
    if (type.is_interval()) {
      if (ta.is_interval() && tb.is_interval()) {
        out = Value::integer(op_ == '+' ? x.i + y.i : x.i - y.i);
        return {};
      }
      const Value& iv = ta.is_interval() ? x : y;
      const Value& num = ta.is_interval() ? y : x;
      const double n = num.kind == Value::Kind::kDouble ? num.d : static_cast<double>(num.i);
      const double scale =
          (tb.id == TypeId::kDecimal && !ta.is_interval()) || (ta.id == TypeId::kDecimal && !tb.is_interval())
              ? static_cast<double>(pow10((ta.is_interval() ? tb : ta).scale))
              : 1.0;
      const double factor = n / scale;
      if (op_ == '*') {
        out = Value::integer(static_cast<int64_t>(std::llround(static_cast<double>(iv.i) * factor)));
      } else {
        if (factor == 0) return eval_error("division by zero");
        out = Value::integer(static_cast<int64_t>(static_cast<double>(iv.i) / factor));
      }
      return {};
    }
    switch (type.id) {
      case TypeId::kReal:
      case TypeId::kDouble: {
        const double p = x.kind == Value::Kind::kDouble ? x.d : static_cast<double>(x.i);
        const double q = y.kind == Value::Kind::kDouble ? y.d : static_cast<double>(y.i);
        double r = 0;
        switch (op_) {
          case '+':
            r = p + q;
            break;
          case '-':
            r = p - q;
            break;
          case '*':
            r = p * q;
            break;
          case '/':
            if (q == 0) return eval_error("division by zero");
            r = p / q;
            break;
          case '%':
            if (q == 0) return eval_error("division by zero");
            r = std::fmod(p, q);
            break;
        }
        // REAL arithmetic is 32-bit: round every result as a float would be.
        out = Value::real(type.id == TypeId::kReal ? static_cast<double>(static_cast<float>(r)) : r);
        return {};
      }
      case TypeId::kDecimal: {
        // Operands were cast to DECIMAL with their own scales; align them here.
        const int sa = ta.id == TypeId::kDecimal ? ta.scale : 0;
        const int sb = tb.id == TypeId::kDecimal ? tb.scale : 0;
        __int128 p = x.i, q = y.i;
        __int128 r = 0;
        switch (op_) {
          case '+':
          case '-': {
            p *= pow10(type.scale - sa);
            q *= pow10(type.scale - sb);
            r = op_ == '+' ? p + q : p - q;
            break;
          }
          case '*': {
            r = p * q;  // scale sa + sb
            const int from = sa + sb;
            if (from > type.scale) {
              const __int128 div = pow10(from - type.scale);
              r = (r >= 0 ? r + div / 2 : r - div / 2) / div;
            } else {
              r *= pow10(type.scale - from);
            }
            break;
          }
          case '/':
          case '%': {
            if (q == 0) return eval_error("division by zero");
            if (op_ == '%') {
              p *= pow10(type.scale - sa);
              q *= pow10(type.scale - sb);
              r = p % q;
              break;
            }
            // p/10^sa / (q/10^sb) scaled to 10^scale = p * 10^(scale - sa + sb) / q
            const int shift = type.scale - sa + sb;
            __int128 num = p;
            if (shift >= 0) num *= pow10(shift);
            __int128 den = q;
            if (shift < 0) den *= pow10(-shift);
            r = num / den;
            const __int128 rem = num % den;
            if (rem != 0 && (rem < 0 ? -rem : rem) * 2 >= (den < 0 ? -den : den)) r += (num < 0) != (den < 0) ? -1 : 1;
            break;
          }
        }
        if (r > INT64_MAX || r < INT64_MIN) return eval_error("numeric overflow");
        out = Value::integer(static_cast<int64_t>(r));
        return {};
      }
      default: {
        // Integer arithmetic: division truncates toward zero (decisions.md 7).
        int64_t r = 0;
        switch (op_) {
          case '+':
            if (__builtin_add_overflow(x.i, y.i, &r)) return eval_error("integer overflow");
            break;
          case '-':
            if (__builtin_sub_overflow(x.i, y.i, &r)) return eval_error("integer overflow");
            break;
          case '*':
            if (__builtin_mul_overflow(x.i, y.i, &r)) return eval_error("integer overflow");
            break;
          case '/':
            if (y.i == 0) return eval_error("division by zero");
            r = x.i / y.i;
            break;
          case '%':
            if (y.i == 0) return eval_error("division by zero");
            r = x.i % y.i;
            break;
        }
        out = Value::integer(r);
        return {};
      }
    }
  }

 private:
  char op_;
  ExprPtr a_, b_;
};

class ComparisonExpr final : public Expr {
 public:
  ComparisonExpr(std::string op, ExprPtr a, ExprPtr b)
      : Expr(SqlType::of(TypeId::kBoolean)), op_(std::move(op)), a_(std::move(a)), b_(std::move(b)) {}
  bool uses_rowtime() const override { return a_->uses_rowtime() || b_->uses_rowtime(); }
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value x, y;
    if (auto st = a_->eval(ctx, x); !st) return st;
    if (auto st = b_->eval(ctx, y); !st) return st;
    if (x.is_null() || y.is_null()) {
      out = Value::null();
      return {};
    }
    int c;
    if (a_->type.id == TypeId::kChar || b_->type.id == TypeId::kChar) {
      // CHAR comparison ignores trailing spaces.
      std::string_view p = x.s, q = y.s;
      while (!p.empty() && p.back() == ' ') p.remove_suffix(1);
      while (!q.empty() && q.back() == ' ') q.remove_suffix(1);
      c = p.compare(q) < 0 ? -1 : p.compare(q) > 0 ? 1 : 0;
    } else {
      c = compare_values(x, y);
    }
    bool r = false;
    if (op_ == "=")
      r = c == 0;
    else if (op_ == "<>")
      r = c != 0;
    else if (op_ == "<")
      r = c < 0;
    else if (op_ == "<=")
      r = c <= 0;
    else if (op_ == ">")
      r = c > 0;
    else if (op_ == ">=")
      r = c >= 0;
    out = Value::boolean(r);
    return {};
  }

 private:
  std::string op_;
  ExprPtr a_, b_;
};

class LogicExpr final : public Expr {
 public:
  LogicExpr(std::string op, std::vector<ExprPtr> args)
      : Expr(SqlType::of(TypeId::kBoolean)), op_(std::move(op)), args_(std::move(args)) {}
  bool uses_rowtime() const override {
    for (const auto& a : args_) {
      if (a->uses_rowtime()) return true;
    }
    return false;
  }
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value v;
    if (op_ == "NOT") {
      if (auto st = args_[0]->eval(ctx, v); !st) return st;
      out = v.is_null() ? Value::null() : Value::boolean(!v.truthy());
      return {};
    }
    const bool is_and = op_ == "AND";
    bool saw_null = false;
    for (const auto& a : args_) {
      if (auto st = a->eval(ctx, v); !st) return st;
      if (v.is_null()) {
        saw_null = true;
      } else if (v.truthy() != is_and) {
        out = Value::boolean(!is_and);
        return {};
      }
    }
    out = saw_null ? Value::null() : Value::boolean(is_and);
    return {};
  }

 private:
  std::string op_;
  std::vector<ExprPtr> args_;
};

class IsNullExpr final : public Expr {
 public:
  IsNullExpr(ExprPtr a, bool negated) : Expr(SqlType::of(TypeId::kBoolean)), a_(std::move(a)), negated_(negated) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value v;
    if (auto st = a_->eval(ctx, v); !st) return st;
    out = Value::boolean(v.is_null() != negated_);
    return {};
  }

 private:
  ExprPtr a_;
  bool negated_;
};

class InExpr final : public Expr {
 public:
  InExpr(ExprPtr v, std::vector<ExprPtr> list, bool negated)
      : Expr(SqlType::of(TypeId::kBoolean)), v_(std::move(v)), list_(std::move(list)), negated_(negated) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value x, y;
    if (auto st = v_->eval(ctx, x); !st) return st;
    if (x.is_null()) {
      out = Value::null();
      return {};
    }
    bool saw_null = false;
    for (const auto& e : list_) {
      if (auto st = e->eval(ctx, y); !st) return st;
      if (y.is_null()) {
        saw_null = true;
        continue;
      }
      if (compare_values(x, y) == 0) {
        out = Value::boolean(!negated_);
        return {};
      }
    }
    out = saw_null ? Value::null() : Value::boolean(negated_);
    return {};
  }

 private:
  ExprPtr v_;
  std::vector<ExprPtr> list_;
  bool negated_;
};

bool utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

bool like_match(std::string_view s, std::string_view p) {
  // % = any sequence, _ = one character (all bytes of a UTF-8 character); iterative with
  // backtracking on the last %.
  size_t si = 0, pi = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '_') {
      ++si;
      while (si < s.size() && utf8_continuation(s[si])) ++si;
      ++pi;
    } else if (pi < p.size() && p[pi] == s[si]) {
      ++si;
      ++pi;
    } else if (pi < p.size() && p[pi] == '%') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      do {
        si = ++mark;
      } while (si < s.size() && utf8_continuation(s[si]));
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

class LikeExpr final : public Expr {
 public:
  LikeExpr(ExprPtr v, ExprPtr p, bool negated)
      : Expr(SqlType::of(TypeId::kBoolean)), v_(std::move(v)), p_(std::move(p)), negated_(negated) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value x, y;
    if (auto st = v_->eval(ctx, x); !st) return st;
    if (auto st = p_->eval(ctx, y); !st) return st;
    if (x.is_null() || y.is_null()) {
      out = Value::null();
      return {};
    }
    out = Value::boolean(like_match(x.s, y.s) != negated_);
    return {};
  }

 private:
  ExprPtr v_, p_;
  bool negated_;
};

class CaseExpr final : public Expr {
 public:
  CaseExpr(std::vector<ExprPtr> conds, std::vector<ExprPtr> results, ExprPtr otherwise, SqlType t)
      : Expr(t), conds_(std::move(conds)), results_(std::move(results)), else_(std::move(otherwise)) {}
  bool uses_rowtime() const override {
    for (const auto& c : conds_) {
      if (c->uses_rowtime()) return true;
    }
    return false;
  }
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value c;
    for (size_t i = 0; i < conds_.size(); ++i) {
      if (auto st = conds_[i]->eval(ctx, c); !st) return st;
      if (c.truthy()) return results_[i]->eval(ctx, out);
    }
    if (else_) return else_->eval(ctx, out);
    out = Value::null();
    return {};
  }

 private:
  std::vector<ExprPtr> conds_, results_;
  ExprPtr else_;
};

class ConcatExpr final : public Expr {
 public:
  ConcatExpr(ExprPtr a, ExprPtr b)
      : Expr(SqlType::varchar(a->type.length && b->type.length ? a->type.length + b->type.length : 0)),
        a_(std::move(a)),
        b_(std::move(b)) {}
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value x, y;
    if (auto st = a_->eval(ctx, x); !st) return st;
    if (auto st = b_->eval(ctx, y); !st) return st;
    if (x.is_null() || y.is_null()) {
      out = Value::null();
      return {};
    }
    out = Value::text(x.s + y.s);
    return {};
  }

 private:
  ExprPtr a_, b_;
};

class DifferenceExpr final : public Expr {
 public:
  DifferenceExpr(ExprPtr a, ExprPtr b, int64_t unit)
      : Expr(SqlType::of(TypeId::kIntervalDayTime)), a_(std::move(a)), b_(std::move(b)), unit_(unit) {}
  bool uses_rowtime() const override { return a_->uses_rowtime() || b_->uses_rowtime(); }
  Status eval(const EvalContext& ctx, Value& out) const override {
    Value x, y;
    if (auto st = a_->eval(ctx, x); !st) return st;
    if (auto st = b_->eval(ctx, y); !st) return st;
    if (x.is_null() || y.is_null()) {
      out = Value::null();
      return {};
    }
    int64_t diff = x.i - y.i;
    if (a_->type.id == TypeId::kDate) diff *= 86400000LL;
    out = Value::integer(diff / unit_ * unit_);  // whole units, truncated toward zero
    return {};
  }

 private:
  ExprPtr a_, b_;
  int64_t unit_;
};

class FunctionExpr final : public Expr {
 public:
  FunctionExpr(std::string name, std::vector<ExprPtr> args, SqlType t, ScalarFn fn, bool strict)
      : Expr(t), name_(std::move(name)), args_(std::move(args)), fn_(std::move(fn)), strict_(strict) {}
  bool uses_rowtime() const override {
    for (const auto& a : args_) {
      if (a->uses_rowtime()) return true;
    }
    return false;
  }
  Status eval(const EvalContext& ctx, Value& out) const override {
    // The argument values live in the node between calls: no allocation per row. An application
    // evaluates on one thread, and a node never appears inside its own arguments.
    std::vector<Value>& vals = args_values_;
    vals.resize(args_.size());
    for (size_t i = 0; i < args_.size(); ++i) {
      if (auto st = args_[i]->eval(ctx, vals[i]); !st) return st;
      if (strict_ && vals[i].is_null()) {
        out = Value::null();
        return {};
      }
    }
    return fn_(vals, ctx, out);
  }

 private:
  std::string name_;
  std::vector<ExprPtr> args_;
  ScalarFn fn_;
  bool strict_;
  mutable std::vector<Value> args_values_;
};

}  // namespace

ExprPtr make_column(size_t index, SqlType type) {
  return std::make_unique<ColumnExpr>(index, type);
}
ExprPtr make_rowtime() {
  return std::make_unique<RowtimeExpr>();
}
ExprPtr make_constant(Value v, SqlType type) {
  return std::make_unique<ConstantExpr>(std::move(v), type);
}
ExprPtr make_aggregate_ref(size_t index, SqlType type) {
  return std::make_unique<AggregateRefExpr>(index, type);
}
ExprPtr make_key_ref(size_t index, SqlType type, bool uses_rowtime) {
  return std::make_unique<KeyRefExpr>(index, type, uses_rowtime);
}
ExprPtr make_cast(ExprPtr child, SqlType target) {
  if (child->type == target) return child;
  return std::make_unique<CastExpr>(std::move(child), target);
}
ExprPtr make_arithmetic(char op, ExprPtr a, ExprPtr b, SqlType type) {
  return std::make_unique<ArithmeticExpr>(op, std::move(a), std::move(b), type);
}
ExprPtr make_comparison(std::string op, ExprPtr a, ExprPtr b) {
  return std::make_unique<ComparisonExpr>(std::move(op), std::move(a), std::move(b));
}
ExprPtr make_logic(std::string op, std::vector<ExprPtr> args) {
  return std::make_unique<LogicExpr>(std::move(op), std::move(args));
}
ExprPtr make_is_null(ExprPtr a, bool negated) {
  return std::make_unique<IsNullExpr>(std::move(a), negated);
}
ExprPtr make_in(ExprPtr value, std::vector<ExprPtr> list, bool negated) {
  return std::make_unique<InExpr>(std::move(value), std::move(list), negated);
}
ExprPtr make_like(ExprPtr value, ExprPtr pattern, bool negated) {
  return std::make_unique<LikeExpr>(std::move(value), std::move(pattern), negated);
}
ExprPtr make_case(std::vector<ExprPtr> conditions, std::vector<ExprPtr> results, ExprPtr otherwise, SqlType type) {
  return std::make_unique<CaseExpr>(std::move(conditions), std::move(results), std::move(otherwise), type);
}
ExprPtr make_concat(ExprPtr a, ExprPtr b) {
  return std::make_unique<ConcatExpr>(std::move(a), std::move(b));
}
ExprPtr make_datetime_difference(ExprPtr a, ExprPtr b, int64_t unit_ms) {
  return std::make_unique<DifferenceExpr>(std::move(a), std::move(b), unit_ms);
}
ExprPtr make_function(std::string name, std::vector<ExprPtr> args, SqlType type, ScalarFn fn, bool null_in_null_out) {
  return std::make_unique<FunctionExpr>(std::move(name), std::move(args), type, std::move(fn), null_in_null_out);
}

}  // namespace eddy::runtime
