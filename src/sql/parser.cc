// Over 800 lines: one recursive-descent parser for both dialects (KDA and Flink statements share
// the expression grammar), which reads best as one class; the lexer and AST are apart.

#include "sql/parser.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "sql/lexer.h"

namespace eddy::sql {

int64_t unit_ms(std::string_view u) {
  if (u == "MILLISECOND") return 1;
  if (u == "SECOND") return 1000;
  if (u == "MINUTE") return 60'000;
  if (u == "HOUR") return 3'600'000;
  if (u == "DAY") return 86'400'000;
  if (u == "WEEK") return 7 * 86'400'000LL;
  return 0;
}

bool is_month_unit(std::string_view u) {
  return u == "MONTH" || u == "YEAR" || u == "QUARTER";
}

namespace {

struct ParseError : std::runtime_error {
  ParseError(Location at, const std::string& what)
      : std::runtime_error(std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + what), loc(at) {}
  Location loc;
};

// Words that end an expression or cannot be an implicit alias.
bool is_reserved(std::string_view w) {
  static constexpr std::string_view kWords[] = {
      "SELECT", "STREAM",    "FROM",   "WHERE",   "GROUP",     "BY",   "HAVING", "WINDOW",   "WINDOWED",  "UNION",
      "ALL",    "AS",        "ON",     "JOIN",    "ORDER",     "AND",  "OR",     "NOT",      "IN",        "IS",
      "LIKE",   "BETWEEN",   "CASE",   "WHEN",    "THEN",      "ELSE", "END",    "OVER",     "PARTITION", "RANGE",
      "ROWS",   "PRECEDING", "INSERT", "INTO",    "CREATE",    "PUMP", "TO",     "INTERVAL", "NULL",      "TRUE",
      "FALSE",  "DISTINCT",  "CAST",   "STAGGER", "FOLLOWING", "LIMIT"};
  for (auto k : kWords) {
    if (w == k) return true;
  }
  return false;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, bool flink) : t_(std::move(tokens)), flink_(flink) {}

  Script script() {
    Script s;
    while (peek().kind != TokenKind::kEnd) {
      if (accept_symbol(";")) continue;
      s.statements.push_back(statement());
      if (peek().kind != TokenKind::kEnd) expect_symbol(";");
    }
    if (s.statements.empty()) throw ParseError(peek().loc, "the application code has no statements");
    s.flink = flink_;
    return s;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(pos_++, t_.size() - 1)]; }
  bool accept_keyword(std::string_view kw) {
    if (peek().is_keyword(kw)) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool accept_symbol(std::string_view s) {
    if (peek().is_symbol(s)) {
      ++pos_;
      return true;
    }
    return false;
  }
  [[noreturn]] void fail(const std::string& expected) const {
    const auto& tok = peek();
    std::string found = tok.kind == TokenKind::kEnd ? "end of input" : "'" + tok.text + "'";
    throw ParseError(tok.loc, "expected " + expected + ", found " + found);
  }
  void expect_keyword(std::string_view kw) {
    if (!accept_keyword(kw)) fail(std::string(kw));
  }
  void expect_symbol(std::string_view s) {
    if (!accept_symbol(s)) fail("'" + std::string(s) + "'");
  }

  Identifier identifier(const char* what) {
    const auto& tok = peek();
    if (tok.kind == TokenKind::kQuotedIdentifier || (tok.kind == TokenKind::kIdentifier && !is_reserved(tok.text))) {
      ++pos_;
      // Flink names are case-sensitive as written; KDA upper-cases unquoted ones.
      const bool raw = flink_ && tok.kind == TokenKind::kIdentifier;
      return Identifier{raw ? tok.raw : tok.text, tok.kind == TokenKind::kQuotedIdentifier || raw, tok.loc};
    }
    fail(what);
  }

  Statement statement() {
    Statement st;
    st.loc = peek().loc;
    if (flink_) return flink_statement();
    expect_keyword("CREATE");
    if (accept_keyword("OR")) expect_keyword("REPLACE");
    if (accept_keyword("STREAM")) {
      CreateStream cs;
      cs.name = identifier("a stream name");
      expect_symbol("(");
      do {
        ColumnDef col;
        col.name = identifier("a column name");
        col.type = type();
        cs.columns.push_back(std::move(col));
      } while (accept_symbol(","));
      expect_symbol(")");
      if (accept_keyword("DESCRIPTION")) {
        if (peek().kind != TokenKind::kString) fail("a description string");
        next();
      }
      st.create_stream = std::move(cs);
      return st;
    }
    if (accept_keyword("PUMP")) {
      CreatePump p;
      p.name = identifier("a pump name");
      expect_keyword("AS");
      expect_keyword("INSERT");
      expect_keyword("INTO");
      insert_target("a stream name", p.target, p.columns);
      p.select = select();
      st.create_pump = std::move(p);
      return st;
    }
    fail("STREAM or PUMP after CREATE");
  }

  // INSERT INTO's `name [(column, ...)]`.
  void insert_target(const char* what, Identifier& target, std::vector<Identifier>& columns) {
    target = identifier(what);
    if (accept_symbol("(")) {
      do {
        columns.push_back(identifier("a column name"));
      } while (accept_symbol(","));
      expect_symbol(")");
    }
  }

  // CREATE TABLE t (col TYPE, ..., WATERMARK FOR col AS col [- INTERVAL ...]) [WITH ('k' = 'v', ...)]
  // and INSERT INTO t [(cols)] SELECT ...
  Statement flink_statement() {
    Statement st;
    st.loc = peek().loc;
    if (accept_keyword("INSERT")) {
      expect_keyword("INTO");
      InsertInto ins;
      insert_target("a table name", ins.target, ins.columns);
      ins.select = select();
      st.insert = std::move(ins);
      return st;
    }
    expect_keyword("CREATE");
    (void)accept_keyword("TEMPORARY");
    if (!accept_keyword("TABLE")) fail("TABLE after CREATE (Flink SQL: CREATE TABLE and INSERT INTO)");
    if (accept_keyword("IF")) {
      expect_keyword("NOT");
      expect_keyword("EXISTS");
    }
    CreateTable t;
    t.name = identifier("a table name");
    expect_symbol("(");
    do {
      if (accept_keyword("WATERMARK")) {
        if (t.watermark) fail("one WATERMARK per table");
        Watermark w;
        w.loc = peek().loc;
        expect_keyword("FOR");
        w.column = identifier("the event-time column");
        expect_keyword("AS");
        auto e = expr();
        if (e->kind == ExprKind::kColumn && e->text == w.column.name) {
          w.delay_ms = 0;
        } else if (e->kind == ExprKind::kBinary && e->text == "-" && e->args[0]->kind == ExprKind::kColumn &&
                   e->args[0]->text == w.column.name && e->args[1]->kind == ExprKind::kInterval) {
          w.delay_ms = interval_ms(std::move(e->args[1]));
        } else {
          throw ParseError(
              w.loc, "WATERMARK FOR " + w.column.name + " AS " + w.column.name + " [- INTERVAL 'n' unit] is supported");
        }
        t.watermark = std::move(w);
        continue;
      }
      if (accept_keyword("PRIMARY")) {
        expect_keyword("KEY");
        expect_symbol("(");
        do {
          identifier("a column name");
        } while (accept_symbol(","));
        expect_symbol(")");
        expect_keyword("NOT");
        expect_keyword("ENFORCED");
        continue;
      }
      ColumnDef col;
      col.name = identifier("a column name");
      if (peek().is_keyword("AS") || peek().is_keyword("METADATA")) {
        throw ParseError(peek().loc, "computed and METADATA columns are not supported yet; declare " + col.name.name +
                                         " as a physical column");
      }
      col.type = type();
      t.columns.push_back(std::move(col));
    } while (accept_symbol(","));
    expect_symbol(")");
    if (accept_keyword("WITH")) {
      expect_symbol("(");
      do {
        if (peek().kind != TokenKind::kString) fail("an option name in quotes");
        std::string k = next().text;
        expect_symbol("=");
        if (peek().kind != TokenKind::kString) fail("an option value in quotes");
        t.options.emplace_back(std::move(k), next().text);
      } while (accept_symbol(","));
      expect_symbol(")");
    }
    st.create_table = std::move(t);
    return st;
  }

  // Flink's legacy group windows, GROUP BY TUMBLE(ts, size) | HOP(ts, slide, size) | SESSION(ts,
  // gap) with TUMBLE_START/_END/_ROWTIME(ts, ...) in the select list, read as the window function
  // over the same table grouped by window_start, window_end: the same results (flink-sql.md 2).
  void legacy_group_window(Select& s) {
    for (size_t i = 0; i < s.group_by.size(); ++i) {
      Expr& g = *s.group_by[i];
      if (g.kind != ExprKind::kFunction || (g.text != "TUMBLE" && g.text != "HOP" && g.text != "SESSION")) continue;
      if (!s.from.window_tvf.empty() || !s.from.table_function.empty() || s.from.stream.name.empty()) {
        throw ParseError(g.loc, "one group window per query, over a table");
      }
      if (g.args.empty() || g.args[0]->kind != ExprKind::kColumn)
        throw ParseError(g.loc, g.text + " needs the event-time column first");
      s.from.window_tvf = g.text;
      s.from.tvf_table = s.from.stream;
      s.from.descriptor = Identifier{g.args[0]->text, true, g.args[0]->loc};
      s.from.session_by_group_keys = g.text == "SESSION";
      for (size_t a = 1; a < g.args.size(); ++a) s.from.function_args.push_back(std::move(g.args[a]));
      const Location at = g.loc;
      s.group_by[i] = make(ExprKind::kColumn, at, "window_start");
      s.group_by.insert(s.group_by.begin() + static_cast<long>(i) + 1, make(ExprKind::kColumn, at, "window_end"));
      for (auto& item : s.items) {
        if (item.expr) window_functions_to_columns(item.expr);
      }
      if (s.having) window_functions_to_columns(s.having);
      return;
    }
  }

  void window_functions_to_columns(ExprPtr& e) {
    if (e->kind == ExprKind::kFunction) {
      for (const char* w : {"TUMBLE", "HOP", "SESSION"}) {
        const std::string f = e->text, p = std::string(w) + "_";
        if (!f.starts_with(p)) continue;
        const std::string part = f.substr(p.size());
        if (part == "START" || part == "END" || part == "ROWTIME") {
          e = make(ExprKind::kColumn, e->loc,
                   part == "START" ? "window_start"
                   : part == "END" ? "window_end"
                                   : "window_time");
          return;
        }
      }
    }
    for (auto& a : e->args) window_functions_to_columns(a);
  }

  SqlType type() {
    const auto& tok = peek();
    if (tok.kind != TokenKind::kIdentifier) fail("a type");
    std::string text = next().text;
    if (flink_) {
      // Flink's names for the same types; TIMESTAMP precision is milliseconds (decisions 6).
      if (text == "STRING") return SqlType::varchar();
      if (text == "INT") text = "INTEGER";
      if (text == "FLOAT") text = "REAL";
      if (text == "TIMESTAMP" || text == "TIMESTAMP_LTZ") {
        if (accept_symbol("(")) {
          if (peek().kind != TokenKind::kNumber) fail("a precision");
          next();
          expect_symbol(")");
        }
        return SqlType::of(TypeId::kTimestamp);
      }
    }
    if (text == "DOUBLE" && peek().is_keyword("PRECISION")) next();
    if ((text == "CHARACTER" || text == "CHAR") && peek().is_keyword("VARYING")) {
      next();
      text = "VARCHAR";
    }
    if (accept_symbol("(")) {
      text += "(";
      if (peek().kind != TokenKind::kNumber) fail("a length");
      text += next().text;
      if (accept_symbol(",")) {
        if (peek().kind != TokenKind::kNumber) fail("a scale");
        text += "," + next().text;
      }
      expect_symbol(")");
      text += ")";
    }
    auto t = parse_type_name(text);
    if (!t) throw ParseError(tok.loc, "unknown or invalid type " + text);
    return *t;
  }

  std::unique_ptr<Select> select() {
    Depth guard(*this);
    auto s = std::make_unique<Select>();
    s->loc = peek().loc;
    expect_keyword("SELECT");
    s->stream = accept_keyword("STREAM");
    do {
      SelectItem item;
      if (accept_symbol("*")) {
        item.star = true;
      } else {
        item.expr = expr();
        if (accept_keyword("AS")) {
          item.alias = identifier("an alias");
        } else if (peek().kind == TokenKind::kQuotedIdentifier ||
                   (peek().kind == TokenKind::kIdentifier && !is_reserved(peek().text))) {
          item.alias = identifier("an alias");
        }
      }
      s->items.push_back(std::move(item));
    } while (accept_symbol(","));
    expect_keyword("FROM");
    s->from = from_item();
    if (accept_keyword("WHERE")) s->where = expr();
    if (accept_keyword("GROUP")) {
      expect_keyword("BY");
      do {
        s->group_by.push_back(expr());
      } while (accept_symbol(","));
    }
    if (flink_) legacy_group_window(*s);
    if (accept_keyword("WINDOWED")) {
      expect_keyword("BY");
      expect_keyword("STAGGER");
      Stagger st;
      st.loc = peek().loc;
      expect_symbol("(");
      expect_keyword("PARTITION");
      expect_keyword("BY");
      do {
        st.partition_by.push_back(expr());
      } while (accept_symbol(","));
      expect_keyword("RANGE");
      st.range_ms = interval_ms(expr_primary_interval());
      expect_symbol(")");
      s->stagger = std::move(st);
    }
    if (accept_keyword("HAVING")) s->having = expr();
    if (accept_keyword("WINDOW")) {
      do {
        auto name = identifier("a window name");
        expect_keyword("AS");
        s->windows.emplace_back(name.name, window_spec());
      } while (accept_symbol(","));
    }
    if (accept_keyword("ORDER")) {
      expect_keyword("BY");
      do {
        auto e = expr();
        bool desc = false;
        if (accept_keyword("DESC"))
          desc = true;
        else
          accept_keyword("ASC");
        s->order_by.emplace_back(std::move(e), desc);
      } while (accept_symbol(","));
    }
    if (accept_keyword("UNION")) {
      expect_keyword("ALL");
      s->union_all = select();
    }
    return s;
  }

  FromItem from_item() {
    FromItem f;
    f.loc = peek().loc;
    if (flink_ && peek().is_symbol("(")) {
      next();
      f.subquery = select();
      expect_symbol(")");
    } else if (flink_ && peek().is_keyword("TABLE") && peek(1).is_symbol("(")) {
      // TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL ...)), HOP, CUMULATE, SESSION(TABLE t PARTITION BY k, ...)
      next();
      expect_symbol("(");
      const auto& fn = peek();
      if (!(fn.is_keyword("TUMBLE") || fn.is_keyword("HOP") || fn.is_keyword("CUMULATE") || fn.is_keyword("SESSION"))) {
        fail("TUMBLE, HOP, CUMULATE or SESSION");
      }
      f.window_tvf = next().text;
      expect_symbol("(");
      expect_keyword("TABLE");
      f.tvf_table = identifier("a table name");
      if (accept_keyword("PARTITION")) {
        expect_keyword("BY");
        f.tvf_partition_by.push_back(expr());
        while (peek().is_symbol(",") && !peek(1).is_keyword("DESCRIPTOR")) {
          next();
          f.tvf_partition_by.push_back(expr());
        }
      }
      expect_symbol(",");
      expect_keyword("DESCRIPTOR");
      expect_symbol("(");
      f.descriptor = identifier("the time column");
      expect_symbol(")");
      while (accept_symbol(",")) f.function_args.push_back(expr());
      expect_symbol(")");
      expect_symbol(")");
    } else if (peek().is_keyword("TABLE") && peek(1).is_symbol("(")) {
      next();
      expect_symbol("(");
      f.table_function = identifier("a table function").name;
      expect_symbol("(");
      expect_keyword("CURSOR");
      expect_symbol("(");
      f.cursor = select();
      expect_symbol(")");
      while (accept_symbol(",")) f.function_args.push_back(expr());
      expect_symbol(")");
      expect_symbol(")");
    } else {
      f.stream = identifier("a stream name");
    }
    if (accept_keyword("AS")) {
      f.alias = identifier("an alias").name;
    } else if (peek().kind == TokenKind::kQuotedIdentifier ||
               (peek().kind == TokenKind::kIdentifier && !is_reserved(peek().text))) {
      f.alias = identifier("an alias").name;
    }
    return f;
  }

  WindowSpec window_spec() {
    WindowSpec w;
    w.loc = peek().loc;
    expect_symbol("(");
    if (accept_keyword("PARTITION")) {
      expect_keyword("BY");
      do {
        w.partition_by.push_back(expr());
      } while (accept_symbol(","));
    }
    if (accept_keyword("ORDER")) {  // ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)
      expect_keyword("BY");
      do {
        auto e = expr();
        bool desc = false;
        if (accept_keyword("DESC"))
          desc = true;
        else
          accept_keyword("ASC");
        w.order_by.emplace_back(std::move(e), desc);
      } while (accept_symbol(","));
      if (accept_symbol(")")) return w;
    }
    if (accept_keyword("ROWS")) {
      w.rows = true;
      if (peek().kind != TokenKind::kNumber) fail("a row count");
      const auto& tok = next();
      auto [p, ec] = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), w.rows_preceding);
      if (ec != std::errc() || p != tok.text.data() + tok.text.size() || w.rows_preceding < 0) {
        throw ParseError(tok.loc, "ROWS needs a non-negative whole number");
      }
    } else if (accept_keyword("RANGE")) {
      w.range_ms = interval_ms(expr_primary_interval());
    } else {
      fail("ROWS or RANGE");
    }
    if (peek().is_keyword("FOLLOWING")) {
      throw ParseError(peek().loc, "only windows ending at the current row are allowed (PRECEDING), not FOLLOWING");
    }
    expect_keyword("PRECEDING");
    expect_symbol(")");
    return w;
  }

  ExprPtr expr_primary_interval() {
    const auto at = peek().loc;
    if (!peek().is_keyword("INTERVAL")) fail("INTERVAL '<n>' <unit>");
    auto e = primary();
    if (e->kind != ExprKind::kInterval) throw ParseError(at, "expected an interval literal");
    return e;
  }

  int64_t interval_ms(const ExprPtr& e) {
    if (e->type.id != TypeId::kIntervalDayTime || e->interval_value <= 0) {
      throw ParseError(e->loc, "window range must be a positive day-to-second interval");
    }
    return e->interval_value;
  }

  // ---- expressions, lowest precedence first -------------------------------------------------

  ExprPtr make(ExprKind kind, Location loc, std::string text = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc;
    e->text = std::move(text);
    return e;
  }

  ExprPtr binary(ExprPtr a, std::string op, ExprPtr b, Location loc) {
    auto e = make(ExprKind::kBinary, loc, std::move(op));
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  // Bounded recursion: hostile input like 100000 '(' must fail cleanly, not overflow the stack.
  struct Depth {
    Parser& p;
    explicit Depth(Parser& x) : p(x) {
      if (++p.depth_ > 400) throw ParseError(p.peek().loc, "statement nested too deeply");
    }
    ~Depth() { --p.depth_; }
  };

  ExprPtr expr() {
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

  // Chains such as 1+1+...+1 build trees as deep as they are long without any recursion here;
  // the binder and the evaluator then recurse once per level. Refused above kMaxExprHeight.
  static constexpr size_t kMaxExprHeight = 500;
  static void check_height(const Expr& root) {
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

  ExprPtr or_expr() {
    auto left = and_expr();
    while (peek().is_keyword("OR")) {
      const auto loc = next().loc;
      left = binary(std::move(left), "OR", and_expr(), loc);
    }
    return left;
  }

  ExprPtr and_expr() {
    auto left = not_expr();
    while (peek().is_keyword("AND")) {
      const auto loc = next().loc;
      left = binary(std::move(left), "AND", not_expr(), loc);
    }
    return left;
  }

  ExprPtr not_expr() {
    Depth guard(*this);
    if (peek().is_keyword("NOT")) {
      const auto loc = next().loc;
      auto e = make(ExprKind::kUnary, loc, "NOT");
      e->args.push_back(not_expr());
      return e;
    }
    return comparison();
  }

  ExprPtr comparison() {
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
          (peek(1).is_keyword("BETWEEN") || peek(1).is_keyword("IN") || peek(1).is_keyword("LIKE"))) {
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
      if (accept_keyword("LIKE")) {
        auto e = make(ExprKind::kLike, loc);
        e->negated = negated;
        e->args.push_back(std::move(left));
        e->args.push_back(concat());
        left = std::move(e);
        continue;
      }
      if (negated) fail("BETWEEN, IN or LIKE after NOT");
      return left;
    }
  }

  ExprPtr concat() {
    auto left = additive();
    while (peek().is_symbol("||")) {
      const auto loc = next().loc;
      left = binary(std::move(left), "||", additive(), loc);
    }
    return left;
  }

  ExprPtr additive() {
    auto left = multiplicative();
    while (peek().is_symbol("+") || peek().is_symbol("-")) {
      const auto& tok = next();
      left = binary(std::move(left), tok.text, multiplicative(), tok.loc);
    }
    return left;
  }

  ExprPtr multiplicative() {
    auto left = unary();
    while (peek().is_symbol("*") || peek().is_symbol("/") || peek().is_symbol("%")) {
      const auto& tok = next();
      left = binary(std::move(left), tok.text, unary(), tok.loc);
    }
    return left;
  }

  ExprPtr unary() {
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

  static bool is_unit(std::string_view w) {
    return w == "YEAR" || w == "MONTH" || w == "DAY" || w == "HOUR" || w == "MINUTE" || w == "SECOND" ||
           w == "MILLISECOND" || w == "WEEK" || w == "QUARTER";
  }

  ExprPtr interval_literal(Location loc) {
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

  // '1 02:03:04.5' DAY TO SECOND, '10' SECOND, '1.5' SECOND, '02:30' HOUR TO MINUTE, ...
  int64_t parse_day_time(const std::string& text, const std::string& unit, const std::string& unit2, Location loc) {
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

  ExprPtr literal(Location loc, SqlType type, std::string text) {
    auto e = make(ExprKind::kLiteral, loc, std::move(text));
    e->type = type;
    return e;
  }

  ExprPtr primary() {
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
    if (tok.kind == TokenKind::kQuotedIdentifier) return column_ref();
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

  ExprPtr column_ref() {
    const auto first = identifier("a column name");
    auto e = make(ExprKind::kColumn, first.loc, first.name);
    e->quoted = first.quoted;
    if (accept_symbol(".")) {
      const auto second = identifier("a column name");
      e->qualifier = first.name;
      e->text = second.name;
      e->quoted = second.quoted;
    }
    return e;
  }

  ExprPtr function_call() {
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
    if (accept_keyword("OVER")) {
      if (peek().is_symbol("(")) {
        e->window = std::make_unique<WindowSpec>(window_spec());
      } else {
        e->window_name = identifier("a window name").name;
      }
    }
    return e;
  }

  std::vector<Token> t_;
  bool flink_ = false;
  size_t pos_ = 0;
  int depth_ = 0;
  int expr_nesting_ = 0;  // expr() calls in progress
};

}  // namespace

Result<Script> parse_script(std::string_view sql) {
  // Flink SQL when a statement starts with CREATE [TEMPORARY] TABLE or INSERT (tokenized the Flink
  // way first, so that `quoted` names do not stop the detection; KDA code is tokenized again).
  auto tokens = tokenize(sql, true);
  if (!tokens) tokens = tokenize(sql);
  if (!tokens) return tl::unexpected(tokens.error());
  bool flink = false;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const bool starts = i == 0 || (*tokens)[i - 1].is_symbol(";");
    if (!starts) continue;
    const auto& t = *tokens;
    if (t[i].is_keyword("INSERT") || (t[i].is_keyword("CREATE") && i + 1 < t.size() &&
                                      (t[i + 1].is_keyword("TABLE") || t[i + 1].is_keyword("TEMPORARY")))) {
      flink = true;
    }
  }
  if (!flink) {
    tokens = tokenize(sql);
    if (!tokens) return tl::unexpected(tokens.error());
  }
  try {
    Parser p(std::move(*tokens), flink);
    return p.script();
  } catch (const ParseError& e) {
    return make_error(Errc::kInvalidArgument, e.what());
  }
}

}  // namespace eddy::sql
