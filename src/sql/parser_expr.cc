// Expressions, lowest precedence first: OR, AND, NOT, comparisons (and IN, BETWEEN, LIKE, IS),
// ||, + -, * / %, unary signs, then literals, intervals, CASE, CAST, columns and function calls.
// Bounded in depth and height so that hostile input fails cleanly.

#include <charconv>
#include <cmath>

#include "sql/parser.h"
#include "sql/parser_internal.h"

namespace eddy::sql {

ExprPtr Parser::expr() {
  Depth guard(*this);
  struct Outer {
    int& n;
    explicit Outer(int& x) : n(++x) {}
    ~Outer() { --n; }
  } outer(expr_nesting_);
  auto e = or_expr();
  if (expr_nesting_ == 1) check_height(*e);  // the outermost expression: its whole tree, once
  return e;
}

void Parser::check_height(const Expr& root) {
  std::vector<std::pair<const Expr*, size_t>> stack = {{&root, 1}};
  while (!stack.empty()) {
    const auto [e, height] = stack.back();
    stack.pop_back();
    if (height > kMaxExprHeight) {
      throw ParseError(e->loc, "expression nested too deeply (more than " + std::to_string(kMaxExprHeight) +
                                   " levels); split long chains such as a+b+...+z into several columns or steps");
    }
    for (const auto& a : e->args) stack.emplace_back(a.get(), height + 1);
    if (e->window) {
      for (const auto& a : e->window->partition_by) stack.emplace_back(a.get(), height + 1);
      for (const auto& [a, _] : e->window->order_by) stack.emplace_back(a.get(), height + 1);
    }
  }
}

ExprPtr Parser::or_expr() {
  auto left = and_expr();
  while (peek().is_keyword("OR")) {
    const auto loc = next().loc;
    left = binary(std::move(left), "OR", and_expr(), loc);
  }
  return left;
}

ExprPtr Parser::and_expr() {
  auto left = not_expr();
  while (peek().is_keyword("AND")) {
    const auto loc = next().loc;
    left = binary(std::move(left), "AND", not_expr(), loc);
  }
  return left;
}

ExprPtr Parser::not_expr() {
  Depth guard(*this);
  if (peek().is_keyword("NOT")) {
    const auto loc = next().loc;
    auto e = make(ExprKind::kUnary, loc, "NOT");
    e->args.push_back(not_expr());
    return e;
  }
  return comparison();
}

ExprPtr Parser::comparison() {
  auto left = concat();
  while (true) {
    const auto loc = peek().loc;
    static constexpr std::string_view kOps[] = {"=", "<>", "<", "<=", ">", ">="};
    bool done = true;
    for (auto op : kOps) {
      if (peek().is_symbol(op)) {
        next();
        left = binary(std::move(left), std::string(op), concat(), loc);
        done = false;
        break;
      }
    }
    if (!done) continue;
    if (peek().is_keyword("IS")) {
      next();
      auto e = make(ExprKind::kIsNull, loc);
      e->negated = accept_keyword("NOT");
      expect_keyword("NULL");
      e->args.push_back(std::move(left));
      left = std::move(e);
      continue;
    }
    bool negated = false;
    if (peek().is_keyword("NOT") &&
        (peek(1).is_keyword("BETWEEN") || peek(1).is_keyword("IN") || peek(1).is_keyword("LIKE") ||
         (peek(1).is_keyword("SIMILAR") && peek(2).is_keyword("TO")))) {
      next();
      negated = true;
    }
    if (accept_keyword("BETWEEN")) {
      auto e = make(ExprKind::kBetween, loc);
      e->negated = negated;
      e->args.push_back(std::move(left));
      e->args.push_back(concat());
      expect_keyword("AND");
      e->args.push_back(concat());
      left = std::move(e);
      continue;
    }
    if (accept_keyword("IN")) {
      auto e = make(ExprKind::kIn, loc);
      e->negated = negated;
      e->args.push_back(std::move(left));
      expect_symbol("(");
      do {
        e->args.push_back(expr());
      } while (accept_symbol(","));
      expect_symbol(")");
      left = std::move(e);
      continue;
    }
    // x [NOT] LIKE p [ESCAPE c], x [NOT] SIMILAR TO p [ESCAPE c] (sqlref/sql-reference-string-operators).
    // SIMILAR and ESCAPE are not reserved: they are operators only in this shape.
    const bool similar = peek().is_keyword("SIMILAR") && peek(1).is_keyword("TO");
    if (similar || accept_keyword("LIKE")) {
      if (similar) {
        next();
        next();
      }
      auto e = make(ExprKind::kLike, loc);
      e->text = similar ? "SIMILAR TO" : "LIKE";
      e->negated = negated;
      e->args.push_back(std::move(left));
      e->args.push_back(concat());
      if (peek().is_keyword("ESCAPE") && peek(1).kind != TokenKind::kSymbol && peek(1).kind != TokenKind::kEnd) {
        next();
        e->args.push_back(concat());
      }
      left = std::move(e);
      continue;
    }
    if (negated) fail("BETWEEN, IN, LIKE or SIMILAR TO after NOT");
    return left;
  }
}

ExprPtr Parser::concat() {
  auto left = additive();
  while (peek().is_symbol("||")) {
    const auto loc = next().loc;
    left = binary(std::move(left), "||", additive(), loc);
  }
  return left;
}

ExprPtr Parser::additive() {
  auto left = multiplicative();
  while (peek().is_symbol("+") || peek().is_symbol("-")) {
    const auto& tok = next();
    left = binary(std::move(left), tok.text, multiplicative(), tok.loc);
  }
  return left;
}

ExprPtr Parser::multiplicative() {
  auto left = unary();
  while (peek().is_symbol("*") || peek().is_symbol("/") || peek().is_symbol("%")) {
    const auto& tok = next();
    left = binary(std::move(left), tok.text, unary(), tok.loc);
  }
  return left;
}

ExprPtr Parser::unary() {
  Depth guard(*this);
  if (peek().is_symbol("-") || peek().is_symbol("+")) {
    const auto& tok = next();
    auto operand = unary();
    if (tok.text == "+") return operand;
    if (operand->kind == ExprKind::kLiteral && operand->type.is_numeric() && operand->text[0] != '-') {
      operand->text = "-" + operand->text;
      return operand;
    }
    if (operand->kind == ExprKind::kInterval) {
      operand->interval_value = -operand->interval_value;
      return operand;
    }
    auto e = make(ExprKind::kUnary, tok.loc, "-");
    e->args.push_back(std::move(operand));
    return e;
  }
  return primary();
}

bool Parser::is_unit(std::string_view w) {
  return w == "YEAR" || w == "MONTH" || w == "DAY" || w == "HOUR" || w == "MINUTE" || w == "SECOND" ||
         w == "MILLISECOND" || w == "WEEK" || w == "QUARTER";
}

ExprPtr Parser::interval_literal(Location loc) {
  bool negative = accept_symbol("-");
  if (peek().kind != TokenKind::kString) fail("a quoted interval value such as '60'");
  std::string text = next().text;
  if (!text.empty() && text[0] == '-') {
    negative = !negative;
    text.erase(0, 1);
  }
  // Flink also writes the units in the plural (INTERVAL '10' MINUTES).
  auto singular = [this](std::string w) {
    if (flink_ && w.size() > 1 && w.back() == 'S' && is_unit(w.substr(0, w.size() - 1))) w.pop_back();
    return w;
  };
  if (peek().kind != TokenKind::kIdentifier || !is_unit(singular(peek().text))) {
    fail("an interval unit (SECOND, MINUTE, HOUR, DAY, MONTH, YEAR)");
  }
  const std::string unit = singular(next().text);
  if (accept_symbol("(")) {  // precision, e.g. INTERVAL '100' SECOND(3)
    while (!accept_symbol(")")) next();
  }
  std::string unit2;
  if (accept_keyword("TO")) {
    if (peek().kind != TokenKind::kIdentifier || !is_unit(peek().text)) fail("an interval unit after TO");
    unit2 = next().text;
    if (accept_symbol("(")) {
      while (!accept_symbol(")")) next();
    }
  }
  auto e = make(ExprKind::kInterval, loc, text);
  e->qualifier = unit;
  if (is_month_unit(unit)) {
    e->type = SqlType::of(TypeId::kIntervalYearMonth);
    // 'Y-M' with YEAR TO MONTH, else a count of the unit.
    int64_t years = 0, months = 0;
    if (!unit2.empty()) {
      if (std::sscanf(text.c_str(), "%ld-%ld", &years, &months) != 2) {
        throw ParseError(loc, "interval '" + text + "' does not match YEAR TO MONTH ('Y-M')");
      }
    } else {
      char* end = nullptr;
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end) throw ParseError(loc, "interval value '" + text + "' is not a whole number");
      (unit == "YEAR" ? years : months) = n;
      if (unit == "QUARTER") months = 3 * n;
    }
    e->interval_value = years * 12 + months;
  } else {
    e->type = SqlType::of(TypeId::kIntervalDayTime);
    e->interval_value = parse_day_time(text, unit, unit2, loc);
  }
  if (negative) e->interval_value = -e->interval_value;
  return e;
}

int64_t Parser::parse_day_time(const std::string& text, const std::string& unit, const std::string& unit2,
                               Location loc) {
  if (unit2.empty()) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end) throw ParseError(loc, "interval value '" + text + "' is not a number");
    return static_cast<int64_t>(std::llround(v * static_cast<double>(unit_ms(unit))));
  }
  // Split into fields by ' ' and ':'; they fill units from `unit` down to `unit2`.
  static constexpr std::string_view kOrder[] = {"DAY", "HOUR", "MINUTE", "SECOND"};
  int first = -1, last = -1;
  for (int i = 0; i < 4; ++i) {
    if (kOrder[i] == unit) first = i;
    if (kOrder[i] == unit2) last = i;
  }
  if (first < 0 || last < first) throw ParseError(loc, "invalid interval qualifier " + unit + " TO " + unit2);
  std::vector<std::string> fields;
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == ':') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  fields.push_back(cur);
  if (static_cast<int>(fields.size()) != last - first + 1) {
    throw ParseError(loc, "interval '" + text + "' does not match " + unit + " TO " + unit2);
  }
  double total = 0;
  for (int i = first; i <= last; ++i) {
    char* end = nullptr;
    const double v = std::strtod(fields[static_cast<size_t>(i - first)].c_str(), &end);
    if (*end) throw ParseError(loc, "interval '" + text + "' is not numeric");
    total += v * static_cast<double>(unit_ms(kOrder[i]));
  }
  return static_cast<int64_t>(std::llround(total));
}

ExprPtr Parser::literal(Location loc, SqlType type, std::string text) {
  auto e = make(ExprKind::kLiteral, loc, std::move(text));
  e->type = type;
  return e;
}

ExprPtr Parser::primary() {
  const Token tok = peek();
  const auto loc = tok.loc;
  if (tok.kind == TokenKind::kNumber) {
    next();
    const bool has_dot = tok.text.find('.') != std::string::npos;
    const bool has_exp = tok.text.find('E') != std::string::npos;
    if (has_exp) return literal(loc, SqlType::of(TypeId::kDouble), tok.text);
    if (has_dot) {
      const int scale = static_cast<int>(tok.text.size() - tok.text.find('.') - 1);
      const int digits = static_cast<int>(tok.text.size()) - 1;
      return literal(loc, SqlType::decimal(std::min(18, std::max(digits, 1)), std::min(scale, 18)), tok.text);
    }
    int64_t v = 0;
    auto [p, ec] = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
    if (ec != std::errc()) return literal(loc, SqlType::decimal(18, 0), tok.text);
    return literal(loc, SqlType::of(v > INT32_MAX ? TypeId::kBigint : TypeId::kInteger), tok.text);
  }
  if (tok.kind == TokenKind::kString) {
    next();
    return literal(loc, SqlType{TypeId::kChar, static_cast<int>(tok.text.size())}, tok.text);
  }
  if (tok.is_symbol("(")) {
    next();
    auto inner = expr();
    expect_symbol(")");
    // (ts1 - ts2) SECOND: a datetime difference read as an interval of that unit.
    if (peek().kind == TokenKind::kIdentifier && is_unit(peek().text)) {
      auto q = make(ExprKind::kQualify, loc, next().text);
      if (accept_keyword("TO")) next();
      q->args.push_back(std::move(inner));
      return q;
    }
    return inner;
  }
  if (tok.kind == TokenKind::kQuotedIdentifier) {
    if (peek(1).is_symbol("(")) return function_call();  // "myFunction"(...): a CREATE FUNCTION's quoted name
    return column_ref();
  }
  if (tok.kind != TokenKind::kIdentifier) fail("an expression");

  const std::string& w = tok.text;
  if (w == "NULL") {
    next();
    return literal(loc, SqlType::of(TypeId::kNull), "NULL");
  }
  if (w == "TRUE" || w == "FALSE") {
    next();
    return literal(loc, SqlType::of(TypeId::kBoolean), w);
  }
  if ((w == "TIMESTAMP" || w == "DATE" || w == "TIME") && peek(1).kind == TokenKind::kString) {
    next();
    const std::string text = next().text;
    return literal(loc,
                   SqlType::of(w == "DATE"   ? TypeId::kDate
                               : w == "TIME" ? TypeId::kTime
                                             : TypeId::kTimestamp),
                   text);
  }
  if (w == "INTERVAL") {
    next();
    return interval_literal(loc);
  }
  if (w == "CASE") {
    next();
    auto e = make(ExprKind::kCase, loc);
    if (!peek().is_keyword("WHEN")) {
      e->has_operand = true;
      e->args.push_back(expr());
    }
    while (accept_keyword("WHEN")) {
      e->args.push_back(expr());
      expect_keyword("THEN");
      e->args.push_back(expr());
    }
    if (accept_keyword("ELSE")) {
      e->has_else = true;
      e->args.push_back(expr());
    }
    expect_keyword("END");
    return e;
  }
  if (w == "CAST" && peek(1).is_symbol("(")) {
    next();
    next();
    auto e = make(ExprKind::kCast, loc);
    e->args.push_back(expr());
    expect_keyword("AS");
    e->type = type();
    expect_symbol(")");
    return e;
  }
  if (w == "CURRENT_ROW_TIMESTAMP" || w == "LOCALTIMESTAMP" || w == "CURRENT_TIMESTAMP" || w == "CURRENT_DATE" ||
      w == "LOCALTIME" || w == "CURRENT_TIME") {
    next();
    if (accept_symbol("(")) expect_symbol(")");
    return make(ExprKind::kFunction, loc, w);
  }
  if (peek(1).is_symbol("(") && !is_reserved(w)) return function_call();
  return column_ref();
}

ExprPtr Parser::column_ref() {
  const auto first = identifier("a column name");
  auto e = make(ExprKind::kColumn, first.loc, first.name);
  e->quoted = first.quoted;
  if (accept_symbol(".")) {
    const auto second = identifier("a column name");
    e->qualifier = first.name;
    e->text = second.name;
    e->quoted = second.quoted;
    // t.r.COLUMN1: a field of the row a log-parsing function made, a column named "R.COLUMN1" of
    // the nested query t.
    if (accept_symbol(".")) {
      const auto third = identifier("a column name");
      e->text = second.name + "." + third.name;
      e->quoted = third.quoted;
    }
  }
  return e;
}

ExprPtr Parser::function_call() {
  const Token name = next();
  expect_symbol("(");
  auto e = make(ExprKind::kFunction, name.loc, name.text);
  const std::string& f = name.text;
  if (f == "EXTRACT") {
    if (peek().kind != TokenKind::kIdentifier) fail("a field (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND)");
    e->qualifier = next().text;
    expect_keyword("FROM");
    e->args.push_back(expr());
    expect_symbol(")");
    return e;
  }
  if (f == "POSITION") {
    e->args.push_back(concat());
    expect_keyword("IN");
    e->args.push_back(expr());
    expect_symbol(")");
    return e;
  }
  if (f == "TRIM") {
    e->qualifier = "BOTH";
    if (peek().is_keyword("BOTH") || peek().is_keyword("LEADING") || peek().is_keyword("TRAILING")) {
      e->qualifier = next().text;
      if (!accept_keyword("FROM")) {
        e->args.push_back(expr());  // characters to trim
        expect_keyword("FROM");
      }
      e->args.insert(e->args.begin(), expr());
    } else {
      auto first = expr();
      if (accept_keyword("FROM")) {
        e->args.push_back(expr());
        e->args.push_back(std::move(first));
      } else {
        e->args.push_back(std::move(first));
      }
    }
    expect_symbol(")");
    return e;
  }
  if (f == "SUBSTRING") {
    e->args.push_back(expr());
    if (accept_keyword("FROM")) {
      e->args.push_back(expr());
      if (accept_keyword("FOR")) e->args.push_back(expr());
    } else {
      while (accept_symbol(",")) e->args.push_back(expr());
    }
    expect_symbol(")");
    return e;
  }
  if (f == "OVERLAY") {
    e->args.push_back(expr());
    expect_keyword("PLACING");
    e->args.push_back(expr());
    expect_keyword("FROM");
    e->args.push_back(expr());
    if (accept_keyword("FOR")) e->args.push_back(expr());
    expect_symbol(")");
    return e;
  }
  if (accept_symbol("*")) {
    e->star = true;
    expect_symbol(")");
  } else if (!accept_symbol(")")) {
    if (accept_keyword("DISTINCT"))
      e->distinct = true;
    else
      accept_keyword("ALL");
    e->args.push_back(expr());
    if ((f == "FLOOR" || f == "CEIL" || f == "CEILING") && accept_keyword("TO")) {
      if (peek().kind != TokenKind::kIdentifier || !is_unit(peek().text)) fail("a time unit after TO");
      e->qualifier = next().text;
    } else if (f == "STEP" && accept_keyword("BY")) {
      e->args.push_back(expr());
    } else {
      while (accept_symbol(",")) e->args.push_back(expr());
    }
    expect_symbol(")");
  }
  // Between the call and OVER (sqlref/sql-reference-nth-value, -lag, -first-value): FROM FIRST |
  // FROM LAST, then IGNORE NULLS | RESPECT NULLS. Only for these functions: after any other call,
  // FROM starts the query's FROM clause.
  if (f == "FIRST_VALUE" || f == "LAST_VALUE" || f == "LAG" || f == "NTH_VALUE") {
    if (f == "NTH_VALUE" && peek().is_keyword("FROM") && (peek(1).is_keyword("FIRST") || peek(1).is_keyword("LAST"))) {
      next();
      e->from_last = next().text == "LAST";
    }
    if ((peek().is_keyword("IGNORE") || peek().is_keyword("RESPECT")) && peek(1).is_keyword("NULLS")) {
      e->nulls = next().text == "IGNORE" ? Expr::Nulls::kIgnore : Expr::Nulls::kRespect;
      next();
    }
  }
  if (accept_keyword("OVER")) {
    if (peek().is_symbol("(")) {
      e->window = std::make_unique<WindowSpec>(window_spec());
    } else {
      e->window_name = identifier("a window name").name;
    }
  }
  return e;
}

}  // namespace eddy::sql
