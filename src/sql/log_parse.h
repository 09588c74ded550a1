// The parsing cores of the KDA log-parsing functions (sqlref/sql-reference-pattern-matching-functions):
// REGEX_LOG_PARSE, FAST_REGEX_LOG_PARSER, FIXED_COLUMN_LOG_PARSE, VARIABLE_COLUMN_LOG_PARSE,
// SYS_LOG_PARSE and W3C_LOG_PARSE. Each class is a "spec" built once from the call's constant
// arguments at bind time (a bad argument is an error with a message, for a compile error), then
// `parse` runs once per row and returns the row's fields as text. The caller casts each text to
// its column's `sql_type` (a DATE, TIME or TIMESTAMP column with a `format` through the
// SimpleDateFormat code). A missing field is a NULL; `std::nullopt` means the line does not match at
// all, which the SQL gives as a row of NULL fields. Texts are finished as LogFieldShape says.
//
// Input is hostile. Lines longer than kLogParseMaxLineBytes do not match, no function returns more
// than kLogParseMaxColumns columns, and a row whose texts add up to more than 16 MB (overlapping
// fixed columns or nested groups) is not parsed. The work per line is linear in its length: RE2,
// never std::regex, and no backtracking. The fast parser, the fixed, variable, syslog and W3C
// parsers run in O(n) (the fast parser O(n log n) at worst, whatever the pattern). REGEX_LOG_PARSE
// is linear too, but RE2's submatch search costs about n x g x k for g groups of which k can be
// "open" at once: a pattern of 20 `(.*) ` on a 1 MB line of spaces takes 0.7 s, one of 500 `(.*?)`
// on 100 KB 16 s, while delimited patterns ([^,]*), stay at a few ms. Specs are immutable and may
// be shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace re2 {
class RE2;
}

namespace eddy::sql {

inline constexpr size_t kLogParseMaxColumns = 1000;
inline constexpr size_t kLogParseMaxLineBytes = size_t{1} << 20;

// One column of a parsing function's result.
struct ParsedColumn {
  std::string name;       // "COLUMN1", or the declared name (upper-cased unless it was quoted)
  std::string sql_type;   // "VARCHAR(1024)", "BIGINT", or the declared type, e.g. "NUMERIC(5,2)"
  std::string format;     // SimpleDateFormat pattern of a DATE, TIME or TIMESTAMP column; else empty
  bool not_null = false;  // declared NOT NULL (the caller decides what a NULL there means)
};

using LogFields = std::vector<std::optional<std::string>>;  // one per column, in order
using LogParseResult = std::optional<LogFields>;            // nullopt: the line does not match

// How a column's text is finished (internal): a CHAR or VARCHAR(n) text is cut to n characters, as
// the cast to the column's type would; another text has its surrounding blanks removed, is NULL
// when nothing is left, and is cut to 1024 characters (no number, date or boolean is longer).
struct LogFieldShape {
  bool character = true;
  size_t max_chars = 0;  // 0: no limit
};

// REGEX_LOG_PARSE(text, pattern [, columns]): the whole text must match the Java-style pattern
// (Matcher.matches, not find); COLUMN1..COLUMNn are its capture groups, VARCHAR(1024), NULL for a
// group that took no part in the match. RE2 runs the pattern with Java's (Perl's) leftmost-first
// preferences, so greedy and lazy quantifiers give Java's groups. Refused with a message:
// backreferences, lookaround, possessive quantifiers, atomic groups, nested classes and &&, \Z \G
// \R \X \h \H. Translated: \uXXXX, \0ooo, (?<name>...), \p{Alpha} and the other POSIX classes.
// Still different from Java: `.` excludes only \n (Java also \r, \u0085, \u2028, \u2029), \s
// lacks \x0B, `$` is the end of the text only, \b is ASCII, and what RE2 does not know ((?x),
// \e, Java's \p{javaLowerCase} and \p{IsLatin}) is a compile error with RE2's message. The
// optional column list ('name [type], ...', the syntax line's third argument, which the page does
// not explain) names and types the groups, one per group.
class RegexLogParse {
 public:
  static Result<RegexLogParse> make(std::string_view pattern, std::string_view columns = {});
  const std::vector<ParsedColumn>& columns() const { return columns_; }
  LogParseResult parse(std::string_view text) const;

 private:
  RegexLogParse() = default;
  std::shared_ptr<const re2::RE2> re_;
  std::vector<ParsedColumn> columns_;
  std::vector<LogFieldShape> shapes_;
};

// FAST_REGEX_LOG_PARSER(text, pattern), also spelled FAST_REGEX_LOG_PARSE. The pattern uses the
// page's syntax (dk.brics.automaton's: `@` any string, `#` nothing, `"..."` a literal string,
// `<Digit>` and the other named classes, `<n-m>` a numeric interval, `\c` the character c; `^`, `$`
// and `\d` are not special). As the page describes, the pattern is cut into one expression per
// top-level group and one per stretch between groups; the fixed-length start of each expression
// moves to the end of the previous piece and a wholly fixed-length expression merges into it. The
// pieces are then matched in turn, each once, anchored where the previous one ended, without
// backtracking between pieces: a piece whose variable part lies in a group takes the shortest text
// it matches (lazy), a piece whose variable part lies outside every group the longest (the page's
// example B), and the last piece must match the rest of the text ("all characters ... must be
// accounted for"). REGEX_LOG_PARSE backtracks instead: '(.*)_+(._.*)' parses
// 'Mary_had_a_little_lamb' there and not here (the page's example A). Columns COLUMN1..COLUMNn,
// VARCHAR(1024), one per top-level group; parentheses inside a group only group. Refused: `&`
// (intersection), `~` (complement), a top-level `|` and a quantified top-level group.
class FastRegexLogParse {
 public:
  static Result<FastRegexLogParse> make(std::string_view pattern);
  const std::vector<ParsedColumn>& columns() const { return columns_; }
  LogParseResult parse(std::string_view text) const;

 private:
  struct Program;
  FastRegexLogParse() = default;
  std::shared_ptr<const Program> program_;
  std::vector<ParsedColumn> columns_;
};

// FIXED_COLUMN_LOG_PARSE(text, 'name TYPE t [\'format\'] [NOT NULL] START n [FOR m], ...'):
// character (code point) positions from 0; without FOR a field runs to the end of the line. A field
// that starts at or past the end of the line is NULL, one that runs past it is cut there. The texts
// are the slices, finished as LogFieldShape says (so '  1' of an INTEGER column is '1'). Names are
// SQL identifiers ("quoted" keeps the case); a format string is for DATE, TIME and TIMESTAMP only.
class FixedColumnLogParse {
 public:
  static Result<FixedColumnLogParse> make(std::string_view description);
  const std::vector<ParsedColumn>& columns() const { return columns_; }
  LogParseResult parse(std::string_view text) const;

 private:
  struct Field {
    size_t start = 0;
    std::optional<size_t> length;
    LogFieldShape shape;
  };
  FixedColumnLogParse() = default;
  std::vector<ParsedColumn> columns_;
  std::vector<Field> fields_;
};

// VARIABLE_COLUMN_LOG_PARSE(text, columns, delimiter [, escape, quote]). `columns` is a count
// (COLUMN1..COLUMNn, VARCHAR(1024)) or a list 'name TYPE t [\'format\'] [NOT NULL], ...'. The
// delimiter is a literal string of one or more characters; the escape (empty: none) is one
// character that makes the next character literal (an escape ending the line stays as itself); the
// quote (empty: none) is one character, or two for different begin and end characters: delimiters
// inside quotes do not split, the quote characters are dropped, and a doubled quote inside quotes
// (when begin and end are the same) is one quote character. A quote left open runs to the end of
// the line. Fields past the last column are ignored, missing ones are NULL; an empty field is '' in
// a character column and NULL in another (LogFieldShape). None of this past the delimiter, escape
// and one/two-character quote is on the page.
class VariableColumnLogParse {
 public:
  static Result<VariableColumnLogParse> with_count(int64_t count, std::string_view delimiter,
                                                   std::string_view escape = {}, std::string_view quote = {});
  static Result<VariableColumnLogParse> with_columns(std::string_view column_list, std::string_view delimiter,
                                                     std::string_view escape = {}, std::string_view quote = {});
  const std::vector<ParsedColumn>& columns() const { return columns_; }
  LogParseResult parse(std::string_view text) const;

 private:
  VariableColumnLogParse() = default;
  Status set_separators(std::string_view delimiter, std::string_view escape, std::string_view quote);
  std::vector<ParsedColumn> columns_;
  std::vector<LogFieldShape> shapes_;
  std::string delimiter_, escape_, begin_quote_, end_quote_;
};

// SYS_LOG_PARSE(text): 'Mon DD HH:MM:SS rest' (RFC 3164; an optional leading <PRI> is skipped).
// COLUMN1 TIMESTAMP is given as the normalised text 'Mmm dd HH:mm:ss' with the format
// 'MMM dd HH:mm:ss' (the line has no year: SimpleDateFormat's default, 1970, as Java gives);
// COLUMN2 VARCHAR is the rest of the line after the spaces that follow the time.
class SysLogParse {
 public:
  SysLogParse();
  const std::vector<ParsedColumn>& columns() const { return columns_; }
  LogParseResult parse(std::string_view text) const;

 private:
  std::vector<ParsedColumn> columns_;
};

// W3C_LOG_PARSE(text, format): a predefined format (COMMON, COMMON WITH VHOST, NCSA EXTENDED,
// REFERER, AGENT; IIS is refused, the page gives no specifiers for it) or an Apache LogFormat
// string with the page's %[name]x or Apache's %{name}x, conditions (%400,501{..}i, %!200..) and
// < > modifiers, and httpd.conf's \" \t \n. One column per specifier, COLUMN1..COLUMNn; two
// specifiers with no text between them are refused. With `typed`, the byte counts, times taken,
// status, port and process id (%B %b %D %T %I %O %s %p %P) are BIGINT, where '-' is NULL and
// anything but digits does not match; every other column is VARCHAR(1024) and keeps the text as
// logged ("[24/May/2004:22:01:02 -0700]" for %t, the request without the format's quotes for
// "%r", Apache's \" escapes kept). Without `typed` every column is VARCHAR(1024). The line is read
// left to right without backtracking (see parse in the .cc).
class W3cLogParse {
 public:
  static Result<W3cLogParse> make(std::string_view format, bool typed = true);
  const std::vector<ParsedColumn>& columns() const { return columns_; }
  LogParseResult parse(std::string_view text) const;

 private:
  struct Step {
    std::string literal;  // text the line must hold here, or empty for a field
    bool field = false;
    bool numeric = false;
    bool time = false;  // %t without a format
  };
  W3cLogParse() = default;
  std::vector<Step> steps_;
  std::vector<ParsedColumn> columns_;
  std::vector<bool> null_dash_;  // BIGINT columns, where '-' is NULL
};

}  // namespace eddy::sql
