// Internal to sql/: the recursive-descent parser of both dialects, one class because KDA and
// Flink statements share the expression grammar. Its statements are parsed in parser.cc, its
// expressions in parser_expr.cc.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sql/ast.h"
#include "sql/lexer.h"

namespace eddy::sql {

// Thrown inside the parser only: parse_script returns it as an error value.
struct ParseError : std::runtime_error {
  ParseError(Location at, const std::string& what)
      : std::runtime_error(std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + what), loc(at) {}
  Location loc;
};

// Words that end an expression or cannot be an implicit alias.
bool is_reserved(std::string_view w);

class Parser {
 public:
  Parser(std::vector<Token> tokens, bool flink) : t_(std::move(tokens)), flink_(flink) {}

  Script script();

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

  Identifier identifier(const char* what);
  Statement statement();

  // INSERT INTO's `name [(column, ...)]`.
  void insert_target(const char* what, Identifier& target, std::vector<Identifier>& columns);

  // CREATE TABLE t (col TYPE, ..., WATERMARK FOR col AS col [- INTERVAL ...]) [WITH ('k' = 'v', ...)]
  // and INSERT INTO t [(cols)] SELECT ...
  Statement flink_statement();

  // Flink's legacy group windows, GROUP BY TUMBLE(ts, size) | HOP(ts, slide, size) | SESSION(ts,
  // gap) with TUMBLE_START/_END/_ROWTIME(ts, ...) in the select list, read as the window function
  // over the same table grouped by window_start, window_end: the same results (flink-sql.md 2).
  void legacy_group_window(Select& s);
  void window_functions_to_columns(ExprPtr& e);
  SqlType type();
  std::unique_ptr<Select> select();
  FromItem from_item();
  CreateFunction create_function();
  bool is_join_start() const;  // [INNER | LEFT [OUTER] | ... | CROSS] JOIN next
  WindowSpec window_spec();
  ExprPtr expr_primary_interval();
  int64_t interval_ms(const ExprPtr& e);

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
  ExprPtr expr();

  // Chains such as 1+1+...+1 build trees as deep as they are long without any recursion here;
  // the binder and the evaluator then recurse once per level. Refused above kMaxExprHeight.
  static constexpr size_t kMaxExprHeight = 500;
  static void check_height(const Expr& root);
  ExprPtr or_expr();
  ExprPtr and_expr();
  ExprPtr not_expr();
  ExprPtr comparison();
  ExprPtr concat();
  ExprPtr additive();
  ExprPtr multiplicative();
  ExprPtr unary();
  static bool is_unit(std::string_view w);
  ExprPtr interval_literal(Location loc);

  // '1 02:03:04.5' DAY TO SECOND, '10' SECOND, '1.5' SECOND, '02:30' HOUR TO MINUTE, ...
  int64_t parse_day_time(const std::string& text, const std::string& unit, const std::string& unit2, Location loc);
  ExprPtr literal(Location loc, SqlType type, std::string text);
  ExprPtr primary();
  ExprPtr column_ref();
  ExprPtr function_call();
  std::vector<Token> t_;
  bool flink_ = false;
  size_t pos_ = 0;
  int depth_ = 0;
  int expr_nesting_ = 0;  // expr() calls in progress
};

}  // namespace eddy::sql
