// CREATE FUNCTION: a call of a script's SQL function is its body with the arguments put in, bound
// where it is called (sqlref/sql-reference-create-function).
#include <map>

#include "sql/query_binder.h"

namespace eddy::sql {

namespace {

// The script's CREATE FUNCTIONs, while bind_script binds it (one script per thread at a time).
thread_local const std::map<std::string, const CreateFunction*>* g_functions = nullptr;
thread_local int g_inlining_depth = 0;
// Expression nodes the script's function calls have expanded into: a function whose body uses a
// parameter twice, called within itself 16 deep, would otherwise grow 2^16-fold.
thread_local size_t g_inlined_nodes = 0;
constexpr size_t kMaxInlinedNodes = 200'000;

size_t node_count(const Expr& e) {
  size_t n = 1;
  for (const auto& a : e.args) n += a ? node_count(*a) : 0;
  return n;
}

// `body` with each unqualified use of a parameter replaced by CAST(argument AS parameter type).
ExprPtr substitute(const Expr& body, const CreateFunction& f, const std::vector<ExprPtr>& args) {
  if (body.kind == ExprKind::kColumn && body.qualifier.empty()) {
    for (size_t i = 0; i < f.params.size(); ++i) {
      if (f.params[i].name.name != body.text) continue;
      auto cast = std::make_unique<Expr>();
      cast->kind = ExprKind::kCast;
      cast->loc = body.loc;
      cast->type = f.params[i].type;
      cast->args.push_back(clone(*args[i]));
      return cast;
    }
  }
  auto c = clone(body);
  for (size_t i = 0; i < c->args.size(); ++i) {
    if (body.args[i]) c->args[i] = substitute(*body.args[i], f, args);
  }
  return c;
}

// A parameter takes its type exactly (the CREATE FUNCTION page: no implicit conversion), up to
// the length of a character string and the precision of a DECIMAL.
bool same_kind(const SqlType& arg, const SqlType& param) {
  if (arg.id == TypeId::kNull) return true;
  if (arg.is_string() && param.is_string()) return true;
  return arg.id == param.id;
}

}  // namespace

Result<Bound> QueryBinder::inline_function(const Expr& e, const CreateFunction& f, Place place) {
  if (e.args.size() != f.params.size()) {
    return error_at(e.loc, "function " + f.name.name + " takes " + std::to_string(f.params.size()) +
                               " argument(s), got " + std::to_string(e.args.size()));
  }
  if (g_inlining_depth >= 16)
    return error_at(e.loc, "function " + f.name.name + " calls functions 16 deep (recursion?)");
  for (size_t i = 0; i < e.args.size(); ++i) {
    auto a = bind(*e.args[i], place);
    if (!a) return a;
    if (!same_kind((*a)->type, f.params[i].type)) {
      return error_at(e.args[i]->loc, "argument " + std::to_string(i + 1) + " of " + f.name.name + " is " +
                                          (*a)->type.to_string() + " but its parameter " + f.params[i].name.name +
                                          " is " + f.params[i].type.to_string() +
                                          ": CAST it (SQL functions take no implicit conversion)");
    }
  }
  auto body = std::make_unique<Expr>();
  body->kind = ExprKind::kCast;
  body->loc = e.loc;
  body->type = f.returns;
  body->args.push_back(substitute(*f.body, f, e.args));
  g_inlined_nodes += node_count(*body);
  if (g_inlined_nodes > kMaxInlinedNodes) {
    return error_at(e.loc, "the calls of SQL functions expand to more than " + std::to_string(kMaxInlinedNodes) +
                               " expression nodes: simplify them");
  }
  ExprPtr call = std::move(body);
  if (f.null_on_null && !e.args.empty()) {  // CASE WHEN a1 IS NULL OR ... THEN NULL ELSE body END
    ExprPtr any_null;
    for (const auto& a : e.args) {
      auto is_null = std::make_unique<Expr>();
      is_null->kind = ExprKind::kIsNull;
      is_null->loc = a->loc;
      is_null->args.push_back(clone(*a));
      if (!any_null) {
        any_null = std::move(is_null);
      } else {
        auto either = std::make_unique<Expr>();
        either->kind = ExprKind::kBinary;
        either->text = "OR";
        either->loc = a->loc;
        either->args.push_back(std::move(any_null));
        either->args.push_back(std::move(is_null));
        any_null = std::move(either);
      }
    }
    auto null = std::make_unique<Expr>();
    null->kind = ExprKind::kLiteral;
    null->type = f.returns;
    null->text = "NULL";
    null->type = SqlType::of(TypeId::kNull);
    auto when = std::make_unique<Expr>();
    when->kind = ExprKind::kCase;
    when->loc = e.loc;
    when->has_else = true;
    when->args.push_back(std::move(any_null));
    when->args.push_back(std::move(null));
    when->args.push_back(std::move(call));
    call = std::move(when);
  }
  ++g_inlining_depth;
  auto bound = bind(*call, place);
  --g_inlining_depth;
  return bound;
}

ScriptFunctions::ScriptFunctions(const std::map<std::string, const CreateFunction*>* functions) {
  g_functions = functions;
  g_inlined_nodes = 0;
}

ScriptFunctions::~ScriptFunctions() {
  g_functions = nullptr;
}

const CreateFunction* script_function(const std::string& name) {
  if (!g_functions) return nullptr;
  auto it = g_functions->find(name);
  return it == g_functions->end() ? nullptr : it->second;
}

}  // namespace eddy::sql
