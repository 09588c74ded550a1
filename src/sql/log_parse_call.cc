#include "sql/log_parse_call.h"

#include <functional>
#include <memory>

#include "sql/date_format.h"
#include "sql/log_parse.h"

namespace eddy::sql {

using runtime::EvalContext;
using runtime::Value;

namespace {

struct Parser {
  std::function<LogParseResult(std::string_view)> parse;
  std::vector<ParsedColumn> columns;
};

bool is_log_parse(const std::string& name) {
  return name == "REGEX_LOG_PARSE" || name == "FAST_REGEX_LOG_PARSER" || name == "FAST_REGEX_LOG_PARSE" ||
         name == "FIXED_COLUMN_LOG_PARSE" || name == "VARIABLE_COLUMN_LOG_PARSE" || name == "SYS_LOG_PARSE" ||
         name == "W3C_LOG_PARSE";
}

Result<std::string> text_arg(const Expr& e, size_t i, const char* what) {
  if (i < e.args.size() && e.args[i]->kind == ExprKind::kLiteral && e.args[i]->type.is_string()) return e.args[i]->text;
  return bad(e.text + "'s " + what + " must be a string literal");
}

template <class Spec>
Result<Parser> wrap(Result<Spec> spec) {
  if (!spec) return tl::unexpected(spec.error());
  auto shared = std::make_shared<const Spec>(std::move(*spec));
  return Parser{[shared](std::string_view line) { return shared->parse(line); }, shared->columns()};
}

Result<Parser> make_parser(const Expr& e) {
  const std::string& f = e.text;
  const size_t n = e.args.size();
  auto arity = [&](size_t lo, size_t hi) -> Status {
    if (n < lo || n > hi) return bad(f + " takes " + std::to_string(lo) + " to " + std::to_string(hi) + " arguments");
    return {};
  };
  if (f == "SYS_LOG_PARSE") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    return wrap(Result<SysLogParse>(SysLogParse()));
  }
  if (f == "REGEX_LOG_PARSE") {
    if (auto st = arity(2, 3); !st) return tl::unexpected(st.error());
    auto pattern = text_arg(e, 1, "pattern");
    if (!pattern) return tl::unexpected(pattern.error());
    std::string columns;
    if (n == 3) {
      auto c = text_arg(e, 2, "column list");
      if (!c) return tl::unexpected(c.error());
      columns = *c;
    }
    return wrap(RegexLogParse::make(*pattern, columns));
  }
  if (f == "FAST_REGEX_LOG_PARSER" || f == "FAST_REGEX_LOG_PARSE") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    auto pattern = text_arg(e, 1, "pattern");
    if (!pattern) return tl::unexpected(pattern.error());
    return wrap(FastRegexLogParse::make(*pattern));
  }
  if (f == "FIXED_COLUMN_LOG_PARSE") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    auto description = text_arg(e, 1, "column description");
    if (!description) return tl::unexpected(description.error());
    return wrap(FixedColumnLogParse::make(*description));
  }
  if (f == "W3C_LOG_PARSE") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    auto format = text_arg(e, 1, "format");
    if (!format) return tl::unexpected(format.error());
    return wrap(W3cLogParse::make(*format));
  }
  // VARIABLE_COLUMN_LOG_PARSE(text, columns (a count or a column list), delimiter [, escape [, quote]])
  if (auto st = arity(3, 5); !st) return tl::unexpected(st.error());
  std::string parts[3];
  for (size_t i = 2; i < n; ++i) {
    auto t = text_arg(e, i, i == 2 ? "delimiter" : i == 3 ? "escape" : "quote");
    if (!t) return tl::unexpected(t.error());
    parts[i - 2] = *t;
  }
  const Expr& columns = *e.args[1];
  if (columns.kind == ExprKind::kLiteral && columns.type.is_integer()) {
    char* end = nullptr;
    const long long count = std::strtoll(columns.text.c_str(), &end, 10);
    return wrap(VariableColumnLogParse::with_count(count, parts[0], parts[1], parts[2]));
  }
  auto list = text_arg(e, 1, "columns (a count or a column list)");
  if (!list) return tl::unexpected(list.error());
  return wrap(VariableColumnLogParse::with_columns(*list, parts[0], parts[1], parts[2]));
}

// The last line parsed and its fields: the columns of one row share one parse.
struct SharedParse {
  Parser parser;
  bool have = false;
  std::string line;
  LogParseResult fields;

  const LogParseResult& of(const std::string& text) {
    if (!have || line != text) {
      fields = parser.parse(text);
      line = text;
      have = true;
    }
    return fields;
  }
};

class LogFieldExpr final : public runtime::Expr {
 public:
  LogFieldExpr(std::shared_ptr<SharedParse> shared, Bound text, size_t index, SqlType type, std::string format)
      : Expr(type), shared_(std::move(shared)), text_(std::move(text)), index_(index), format_(std::move(format)) {}

  Status eval(const EvalContext& ctx, Value& out) const override {
    Value line;
    if (auto st = text_->eval(ctx, line); !st) return st;
    out = Value::null();
    if (line.is_null()) return {};
    const auto& fields = shared_->of(line.s);
    if (!fields || index_ >= fields->size() || !(*fields)[index_]) return {};
    const std::string& text = *(*fields)[index_];
    if (!format_.empty() && type.is_datetime()) {
      auto t = parse_date(format_, text);
      if (!t) return runtime_error("'" + text.substr(0, 200) + "' does not match the format '" + format_ + "'");
      out = Value::integer(type.id == TypeId::kDate   ? floor_div(*t, 86400000LL)
                           : type.id == TypeId::kTime ? ((*t % 86400000LL) + 86400000LL) % 86400000LL
                                                      : *t);
      return {};
    }
    out = Value::text(text);
    return {};
  }

 private:
  std::shared_ptr<SharedParse> shared_;
  Bound text_;
  size_t index_;
  std::string format_;
};

Result<SqlType> column_type(const ParsedColumn& c) {
  auto t = runtime::parse_type_name(c.sql_type);
  if (!t) return bad("column " + c.name + ": unknown type " + c.sql_type);
  return *t;
}

}  // namespace

std::optional<Result<LogParseColumns>> log_parse_columns(const Expr& e) {
  if (e.kind != ExprKind::kFunction || !is_log_parse(e.text)) return std::nullopt;
  auto parser = make_parser(e);
  if (!parser) return Result<LogParseColumns>(tl::unexpected(parser.error()));
  LogParseColumns out;
  for (const auto& c : parser->columns) {
    auto t = column_type(c);
    if (!t) return Result<LogParseColumns>(tl::unexpected(t.error()));
    out.names.push_back(c.name);
    out.types.push_back(*t);
  }
  return out;
}

Result<std::vector<Bound>> log_parse_outputs(const Expr& e, const std::function<Result<Bound>()>& bind_text) {
  auto parser = make_parser(e);
  if (!parser) return tl::unexpected(parser.error());
  auto shared = std::make_shared<SharedParse>();
  shared->parser = std::move(*parser);
  std::vector<Bound> out;
  const auto& columns = shared->parser.columns;
  for (size_t i = 0; i < columns.size(); ++i) {
    auto t = column_type(columns[i]);
    if (!t) return tl::unexpected(t.error());
    auto text = bind_text();
    if (!text) return tl::unexpected(text.error());
    if (!(*text)->type.is_string() && (*text)->type.id != TypeId::kNull)
      return bad(e.text + " parses a character string, got " + (*text)->type.to_string());
    *text = runtime::make_cast(std::move(*text), SqlType::varchar());
    // A DATE, TIME or TIMESTAMP with its format is read by SimpleDateFormat; any other field is
    // cast from its text to the column's type.
    const bool dated = t->is_datetime() && !columns[i].format.empty();
    Bound field = std::make_unique<LogFieldExpr>(shared, std::move(*text), i, dated ? *t : SqlType::varchar(),
                                                 dated ? columns[i].format : std::string());
    out.push_back(dated ? std::move(field) : runtime::make_cast(std::move(field), *t));
  }
  return out;
}

}  // namespace eddy::sql
