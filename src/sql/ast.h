// The syntax tree of a SQL application. KDA dialect: CREATE STREAM and CREATE PUMP statements whose
// INSERT ... SELECT STREAM queries use expressions, GROUP BY windows, WINDOW/OVER sliding windows
// and WINDOWED BY STAGGER. Flink dialect: CREATE TABLE (with a WATERMARK and WITH options) and
// INSERT INTO ... SELECT over tables and the windowing table functions.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/types.h"

namespace eddy::sql {

// The SQL types are the runtime's (values are typed there); the front end names them as its own.
using runtime::common_type;
using runtime::parse_type_name;
using runtime::SqlType;
using runtime::TypeId;

struct Location {
  int line = 1;
  int column = 1;
};

// An identifier as the binder compares it: unquoted names are upper-cased by the lexer.
struct Identifier {
  std::string name;
  bool quoted = false;
  Location loc;
};

struct Expr;
// A deep copy (CREATE FUNCTION bodies are copied into each call).
std::unique_ptr<Expr> clone(const Expr& e);
using ExprPtr = std::unique_ptr<Expr>;

struct WindowSpec {
  std::vector<ExprPtr> partition_by;
  std::vector<std::pair<ExprPtr, bool>> order_by;  // ORDER BY expr [DESC] (ROW_NUMBER), descending
  bool rows = false;                               // ROWS n PRECEDING (else RANGE INTERVAL ... PRECEDING)
  int64_t rows_preceding = 0;
  int64_t range_ms = 0;
  Location loc;
};

enum class ExprKind {
  kLiteral,   // type + text (numbers, strings, booleans, NULL, date/time literals)
  kInterval,  // INTERVAL literal: interval_value in ms or months, type says which
  kColumn,    // [qualifier.]name
  kUnary,     // op: "-", "+", "NOT"
  kBinary,    // op: + - * / % || = <> < <= > >= AND OR
  kFunction,  // name(args) [OVER ...]; also FLOOR/CEIL ... TO unit, STEP ... BY, EXTRACT, POSITION...
  kCase,      // [operand] WHEN ... THEN ... [ELSE ...]
  kCast,      // CAST(arg AS type)
  kBetween,   // args: value, low, high; negated
  kIn,        // args: value, list...; negated
  kLike,      // args: value, pattern; negated
  kIsNull,    // args: value; negated = IS NOT NULL
  kQualify,   // (expr) <unit>: a datetime difference as an interval in `unit`
};

struct Expr {
  ExprKind kind;
  Location loc;
  std::string text;       // literal text, operator, function name (upper), column name, unit
  std::string qualifier;  // column qualifier; FLOOR/CEIL/EXTRACT unit; TRIM side
  std::vector<ExprPtr> args;
  SqlType type;  // literal / CAST target / interval type
  int64_t interval_value = 0;
  bool negated = false;
  bool distinct = false;     // aggregate(DISTINCT x)
  bool star = false;         // COUNT(*)
  bool has_operand = false;  // CASE x WHEN ...
  bool has_else = false;
  bool quoted = false;  // column name was quoted
  // FIRST_VALUE, LAST_VALUE, LAG, NTH_VALUE: [IGNORE | RESPECT] NULLS, and NTH_VALUE's FROM LAST.
  enum class Nulls { kDefault, kRespect, kIgnore } nulls = Nulls::kDefault;
  bool from_last = false;
  std::string window_name;             // OVER w
  std::unique_ptr<WindowSpec> window;  // OVER (...)

  Expr() = default;
  Expr(Expr&&) = default;
  Expr& operator=(Expr&&) = default;
  // Iterative: a tree the parser refuses as too deep (a 60 KB 1+1+...+1) is still freed without
  // one stack frame per level.
  ~Expr();
};

struct Select;

struct FromItem {
  Identifier stream;  // FROM "S" [AS] alias
  std::string alias;
  // FROM TABLE(FN(CURSOR(SELECT STREAM * FROM s), args...))
  std::string table_function;
  std::unique_ptr<Select> cursor;
  std::vector<ExprPtr> function_args;
  // Flink window TVF: TABLE(TUMBLE|HOP|CUMULATE|SESSION(TABLE t [PARTITION BY k], DESCRIPTOR(c), ...))
  // with the intervals in function_args.
  std::string window_tvf;
  Identifier tvf_table;
  Identifier descriptor;
  std::vector<ExprPtr> tvf_partition_by;
  bool session_by_group_keys = false;       // legacy GROUP BY SESSION(...): sessions per group key
  std::unique_ptr<Select> subquery;         // FROM (SELECT ...)
  std::vector<std::string> column_aliases;  // FROM (SELECT ...) AS t(a, b): its columns' names
  // A stream's window in a KDA join: FROM s OVER (RANGE ...) AS a JOIN t OVER w AS b.
  std::unique_ptr<WindowSpec> over;
  std::string over_name;
  ExprPtr system_time;  // Flink: FOR SYSTEM_TIME AS OF expr (a lookup or temporal join)
  Location loc;
};

// FROM left [INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER] | CROSS] JOIN right [ON condition]
// (sqlref/sql-reference-join-clause).
struct JoinClause {
  std::string kind;  // INNER, LEFT, RIGHT, FULL or CROSS
  FromItem right;
  ExprPtr on;
  Location loc;
};

struct SelectItem {
  ExprPtr expr;      // null for `*`
  Identifier alias;  // empty name if none
  bool star = false;
};

struct Stagger {
  std::vector<ExprPtr> partition_by;
  int64_t range_ms = 0;
  Location loc;
};

struct Select {
  bool stream = false;  // SELECT STREAM
  std::vector<SelectItem> items;
  FromItem from;
  std::unique_ptr<JoinClause> join;
  ExprPtr where;
  std::vector<ExprPtr> group_by;
  std::optional<Stagger> stagger;
  ExprPtr having;
  std::vector<std::pair<std::string, WindowSpec>> windows;
  std::vector<std::pair<ExprPtr, bool>> order_by;  // expression, descending
  std::unique_ptr<Select> union_all;
  Location loc;
};

struct ColumnDef {
  Identifier name;
  SqlType type;
};

struct CreateStream {
  Identifier name;
  std::vector<ColumnDef> columns;
};

struct CreatePump {
  Identifier name;
  Identifier target;
  std::vector<Identifier> columns;  // optional INSERT column list
  std::unique_ptr<Select> select;
};

// Flink: WATERMARK FOR column AS column [- INTERVAL ...].
struct Watermark {
  Identifier column;
  int64_t delay_ms = 0;
  Location loc;
};

struct CreateTable {
  Identifier name;
  std::vector<ColumnDef> columns;
  std::optional<Watermark> watermark;
  std::vector<std::pair<std::string, std::string>> options;  // WITH ('k' = 'v', ...)
};

struct InsertInto {
  Identifier target;
  std::vector<Identifier> columns;
  std::unique_ptr<Select> select;
};

// CREATE FUNCTION name(p type, ...) RETURNS type ... RETURN expression: a SQL function, inlined
// where it is called (sqlref/sql-reference-create-function).
struct CreateFunction {
  Identifier name;
  std::vector<ColumnDef> params;
  SqlType returns;
  bool null_on_null = false;  // RETURNS NULL ON NULL INPUT
  std::shared_ptr<const Expr> body;
};

struct Statement {
  std::optional<CreateStream> create_stream;
  std::optional<CreateFunction> create_function;
  std::optional<CreatePump> create_pump;
  std::optional<CreateTable> create_table;  // Flink
  std::optional<InsertInto> insert;         // Flink
  Location loc;
};

struct Script {
  std::vector<Statement> statements;
  bool flink = false;  // the Flink SQL dialect (CREATE TABLE / INSERT INTO)
};

}  // namespace eddy::sql
