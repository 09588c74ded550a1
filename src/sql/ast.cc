#include "sql/ast.h"

#include <vector>

namespace eddy::sql {

Expr::~Expr() {
  std::vector<ExprPtr> pending;
  auto take = [&pending](Expr& e) {
    for (auto& a : e.args) pending.push_back(std::move(a));
    e.args.clear();
    if (e.window) {
      for (auto& a : e.window->partition_by) pending.push_back(std::move(a));
      for (auto& [a, _] : e.window->order_by) pending.push_back(std::move(a));
      e.window.reset();
    }
  };
  take(*this);
  while (!pending.empty()) {
    ExprPtr e = std::move(pending.back());
    pending.pop_back();
    if (e) take(*e);  // its children move here before it is freed, so it frees none of its own
  }
}

}  // namespace eddy::sql

namespace eddy::sql {

std::unique_ptr<Expr> clone(const Expr& e) {
  auto c = std::make_unique<Expr>();
  c->kind = e.kind;
  c->loc = e.loc;
  c->text = e.text;
  c->qualifier = e.qualifier;
  c->type = e.type;
  c->interval_value = e.interval_value;
  c->negated = e.negated;
  c->distinct = e.distinct;
  c->star = e.star;
  c->has_operand = e.has_operand;
  c->has_else = e.has_else;
  c->quoted = e.quoted;
  c->nulls = e.nulls;
  c->from_last = e.from_last;
  c->window_name = e.window_name;
  for (const auto& a : e.args) c->args.push_back(a ? clone(*a) : nullptr);
  if (e.window) {
    auto w = std::make_unique<WindowSpec>();
    for (const auto& p : e.window->partition_by) w->partition_by.push_back(clone(*p));
    for (const auto& [o, desc] : e.window->order_by) w->order_by.emplace_back(clone(*o), desc);
    w->rows = e.window->rows;
    w->rows_preceding = e.window->rows_preceding;
    w->range_ms = e.window->range_ms;
    w->loc = e.window->loc;
    c->window = std::move(w);
  }
  return c;
}

}  // namespace eddy::sql
