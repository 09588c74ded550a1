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
