// The statements of both dialects: KDA's CREATE STREAM / PUMP and Flink's CREATE TABLE and
// INSERT INTO, SELECT with its FROM, windows and clauses, and parse_script, which tells the
// dialects apart. Expressions are in parser_expr.cc.

#include "sql/parser.h"

#include <charconv>

#include "sql/lexer.h"
#include "sql/parser_internal.h"

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

Script Parser::script() {
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

Identifier Parser::identifier(const char* what) {
  const auto& tok = peek();
  if (tok.kind == TokenKind::kQuotedIdentifier || (tok.kind == TokenKind::kIdentifier && !is_reserved(tok.text))) {
    ++pos_;
    // Flink names are case-sensitive as written; KDA upper-cases unquoted ones.
    const bool raw = flink_ && tok.kind == TokenKind::kIdentifier;
    return Identifier{raw ? tok.raw : tok.text, tok.kind == TokenKind::kQuotedIdentifier || raw, tok.loc};
  }
  fail(what);
}

Statement Parser::statement() {
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
  if (accept_keyword("FUNCTION")) {
    st.create_function = create_function();
    return st;
  }
  fail("STREAM, PUMP or FUNCTION after CREATE");
}

// CREATE FUNCTION name(p type, ...) RETURNS type [LANGUAGE SQL] [SPECIFIC name] [[NOT] DETERMINISTIC]
// [CONTAINS SQL | READS SQL DATA] [RETURNS NULL ON NULL INPUT | CALLED ON NULL INPUT] RETURN expr
CreateFunction Parser::create_function() {
  CreateFunction f;
  f.name = identifier("a function name");
  expect_symbol("(");
  if (!accept_symbol(")")) {
    do {
      ColumnDef p;
      p.name = identifier("a parameter name");
      p.type = type();
      f.params.push_back(std::move(p));
    } while (accept_symbol(","));
    expect_symbol(")");
  }
  expect_keyword("RETURNS");
  f.returns = type();
  for (;;) {
    if (accept_keyword("LANGUAGE")) {
      if (!accept_keyword("SQL")) fail("LANGUAGE SQL (a function's body is SQL)");
    } else if (accept_keyword("SPECIFIC")) {
      identifier("a specific name");
    } else if (accept_keyword("DETERMINISTIC")) {
    } else if (peek().is_keyword("NOT") && peek(1).is_keyword("DETERMINISTIC")) {
      next();
      next();
    } else if (accept_keyword("CONTAINS")) {
      expect_keyword("SQL");
    } else if (accept_keyword("READS")) {
      expect_keyword("SQL");
      expect_keyword("DATA");
    } else if (peek().is_keyword("MODIFIES")) {
      fail("a function that reads streams only (MODIFIES SQL DATA is not allowed)");
    } else if (peek().is_keyword("RETURNS") && peek(1).is_keyword("NULL")) {
      next();
      next();
      expect_keyword("ON");
      expect_keyword("NULL");
      expect_keyword("INPUT");
      f.null_on_null = true;
    } else if (accept_keyword("CALLED")) {
      expect_keyword("ON");
      expect_keyword("NULL");
      expect_keyword("INPUT");
    } else {
      break;
    }
  }
  expect_keyword("RETURN");
  f.body = expr();
  return f;
}

void Parser::insert_target(const char* what, Identifier& target, std::vector<Identifier>& columns) {
  target = identifier(what);
  if (accept_symbol("(")) {
    do {
      columns.push_back(identifier("a column name"));
    } while (accept_symbol(","));
    expect_symbol(")");
  }
}

Statement Parser::flink_statement() {
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

void Parser::legacy_group_window(Select& s) {
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

void Parser::window_functions_to_columns(ExprPtr& e) {
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

SqlType Parser::type() {
  const auto& tok = peek();
  if (tok.kind != TokenKind::kIdentifier) fail("a type");
  std::string text = next().text;
  if (text == "BINARY" || text == "VARBINARY") {
    throw ParseError(tok.loc, text +
                                  " is not supported: keep bytes in a VARCHAR column (hex or base64) and decode "
                                  "them with the string functions");
  }
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

std::unique_ptr<Select> Parser::select() {
  Depth guard(*this);
  auto s = std::make_unique<Select>();
  s->loc = peek().loc;
  expect_keyword("SELECT");
  s->stream = accept_keyword("STREAM");
  if (peek().is_keyword("DISTINCT") && !peek(1).is_symbol("(")) {
    throw ParseError(peek().loc,
                     "SELECT DISTINCT over a stream never ends: group by a window and the columns instead (GROUP BY "
                     "FLOOR(s.ROWTIME TO MINUTE), a, b)");
  }
  accept_keyword("ALL");
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
  if (is_join_start()) {
    auto j = std::make_unique<JoinClause>();
    j->loc = peek().loc;
    j->kind = "INNER";
    if (peek().is_keyword("INNER") || peek().is_keyword("LEFT") || peek().is_keyword("RIGHT") ||
        peek().is_keyword("FULL") || peek().is_keyword("CROSS")) {
      j->kind = next().text;
      accept_keyword("OUTER");
    }
    expect_keyword("JOIN");
    j->right = from_item();
    if (j->kind != "CROSS") {
      expect_keyword("ON");
      j->on = expr();
    }
    s->join = std::move(j);
  }
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

FromItem Parser::from_item() {
  FromItem f;
  f.loc = peek().loc;
  if (peek().is_symbol("(") && peek(1).is_keyword("VALUES")) {
    throw ParseError(peek(1).loc,
                     "FROM (VALUES ...) is a finite table, not a stream: a pump reads an in-application "
                     "stream (use a reference table for fixed rows)");
  }
  if (peek().is_symbol("(")) {
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
    // Flink's lookup join: the table as of the row's processing time, which for a table loaded
    // once per launch is the table.
    if (flink_ && peek().is_keyword("FOR") && peek(1).is_keyword("SYSTEM_TIME")) {
      next();
      next();
      expect_keyword("AS");
      if (!peek().is_keyword("OF")) fail("OF");
      next();
      f.system_time = expr();
    }
    if (!flink_ && accept_keyword("OVER")) {
      if (peek().is_symbol("("))
        f.over = std::make_unique<WindowSpec>(window_spec());
      else
        f.over_name = identifier("a window name").name;
    }
  }
  if (accept_keyword("AS")) {
    f.alias = identifier("an alias").name;
  } else if (peek().kind == TokenKind::kQuotedIdentifier ||
             (peek().kind == TokenKind::kIdentifier && !is_reserved(peek().text) && !is_join_start())) {
    f.alias = identifier("an alias").name;
  }
  if (f.subquery && !f.alias.empty() && accept_symbol("(")) {
    do {
      f.column_aliases.push_back(identifier("a column name").name);
    } while (accept_symbol(","));
    expect_symbol(")");
  }
  return f;
}

bool Parser::is_join_start() const {
  if (peek().is_keyword("JOIN")) return true;
  const bool kind = peek().is_keyword("INNER") || peek().is_keyword("LEFT") || peek().is_keyword("RIGHT") ||
                    peek().is_keyword("FULL") || peek().is_keyword("CROSS");
  return kind && (peek(1).is_keyword("JOIN") || (peek(1).is_keyword("OUTER") && peek(2).is_keyword("JOIN")));
}

WindowSpec Parser::window_spec() {
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
  // KDA: ROWS n PRECEDING | RANGE INTERVAL ... PRECEDING. Flink: the same inside BETWEEN ... AND
  // CURRENT ROW (over-agg/). UNBOUNDED PRECEDING is refused: its state would have no bound.
  const bool rows = accept_keyword("ROWS");
  if (!rows && !accept_keyword("RANGE")) fail("ROWS or RANGE");
  w.rows = rows;
  const bool between = accept_keyword("BETWEEN");
  if (peek().is_keyword("UNBOUNDED")) {
    throw ParseError(peek().loc,
                     "UNBOUNDED PRECEDING keeps every row of a partition forever: give a bound, e.g. RANGE BETWEEN "
                     "INTERVAL '1' HOUR PRECEDING AND CURRENT ROW");
  }
  if (rows) {
    if (peek().kind != TokenKind::kNumber) fail("a row count");
    const auto& tok = next();
    auto [p, ec] = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), w.rows_preceding);
    if (ec != std::errc() || p != tok.text.data() + tok.text.size() || w.rows_preceding < 0) {
      throw ParseError(tok.loc, "ROWS needs a non-negative whole number");
    }
  } else {
    w.range_ms = interval_ms(expr_primary_interval());
  }
  if (peek().is_keyword("FOLLOWING")) {
    throw ParseError(peek().loc, "only windows ending at the current row are allowed (PRECEDING), not FOLLOWING");
  }
  expect_keyword("PRECEDING");
  if (between) {
    expect_keyword("AND");
    if (!peek().is_keyword("CURRENT") || !peek(1).is_keyword("ROW"))
      fail("CURRENT ROW (windows end at the current row)");
    next();
    next();
  }
  expect_symbol(")");
  return w;
}

ExprPtr Parser::expr_primary_interval() {
  const auto at = peek().loc;
  if (!peek().is_keyword("INTERVAL")) fail("INTERVAL '<n>' <unit>");
  auto e = primary();
  if (e->kind != ExprKind::kInterval) throw ParseError(at, "expected an interval literal");
  return e;
}

int64_t Parser::interval_ms(const ExprPtr& e) {
  if (e->type.id != TypeId::kIntervalDayTime || e->interval_value <= 0) {
    throw ParseError(e->loc, "window range must be a positive day-to-second interval");
  }
  return e->interval_value;
}

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
