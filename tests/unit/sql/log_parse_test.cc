#include "sql/log_parse.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace eddy::sql {
namespace {

using Row = std::vector<std::optional<std::string>>;

std::vector<std::string> names(const std::vector<ParsedColumn>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(c.name);
  return out;
}

std::vector<std::string> types(const std::vector<ParsedColumn>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(c.sql_type);
  return out;
}

template <class Spec>
std::string error_of(const Result<Spec>& r) {
  return r ? std::string("(no error)") : r.error().message;
}

// Runs `f` and fails when it takes longer than `seconds` (hostile inputs must stay linear).
template <class F>
auto timed(double seconds, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  auto result = f();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took.count(), seconds);
  return result;
}

// ---------------------------------------------------------------------------------------------
// REGEX_LOG_PARSE

// sqlref/sql-reference-regex-log-parse, examples 1 and 2: REGEX_LOG_PARSE(SECTOR,
// '.*([E].).*([R].*)') over the stock ticker's sectors. The page shows its output as a screenshot;
// the values are Java's (greedy, backtracking) answers for the sample stream's sectors.
TEST(RegexLogParse, DocumentedSectorExample) {
  auto spec = RegexLogParse::make(".*([E].).*([R].*)");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(names(spec->columns()), (std::vector<std::string>{"COLUMN1", "COLUMN2"}));
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"VARCHAR(1024)", "VARCHAR(1024)"}));
  EXPECT_EQ(spec->parse("ENERGY"), (Row{"EN", "RGY"}));
  EXPECT_EQ(spec->parse("HEALTHCARE"), (Row{"EA", "RE"}));
  EXPECT_EQ(spec->parse("TECHNOLOGY"), std::nullopt);  // no R: "Failure to match produces a NULL value result"
  EXPECT_EQ(spec->parse("FINANCIAL"), std::nullopt);
  EXPECT_EQ(spec->parse("RETAIL"), std::nullopt);
}

// dev/examples-transforming-strings-regexlogparse: REGEX_LOG_PARSE(LOGENTRY, '(\w.+) (\d.+) (\w.+)
// (\w.+)') on the example's log record (its output is a screenshot: these are Java's answers).
TEST(RegexLogParse, DeveloperGuideLogEntry) {
  auto spec = RegexLogParse::make(R"((\w.+) (\d.+) (\w.+) (\w.+))");
  ASSERT_TRUE(spec) << error_of(spec);
  const std::string entry = R"(203.0.113.24 - - [25/Mar/2018:15:25:37 -0700] "GET /index.php HTTP/1.1" 200 125 "-" )"
                            R"("Mozilla/5.0 [en] Gecko/20100101 Firefox/52.0")";
  EXPECT_EQ(spec->parse(entry), (Row{R"(203.0.113.24 - - [25/Mar/2018:15:25:37 -0700] "GET /index.php HTTP/1.1" 200)",
                                     R"(125 "-" "Mozilla/5.0 [en])", "Gecko/20100101", R"(Firefox/52.0")"}));
}

TEST(RegexLogParse, WholeStringMustMatchAndUnusedGroupsAreNull) {
  auto spec = RegexLogParse::make("(a)|(b)");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->parse("b"), (Row{std::nullopt, "b"}));
  EXPECT_EQ(spec->parse("ab"), std::nullopt);  // Matcher.matches: the whole text
  auto digits = RegexLogParse::make(R"((\d+))");
  ASSERT_TRUE(digits);
  EXPECT_EQ(digits->parse("took 12 ms"), std::nullopt);
  EXPECT_EQ(digits->parse("12"), (Row{"12"}));
}

TEST(RegexLogParse, JavaSyntaxTranslated) {
  auto named = RegexLogParse::make(R"((?<year>\d{4})-(\p{Alpha}+)\u0021)");
  ASSERT_TRUE(named) << error_of(named);
  EXPECT_EQ(named->parse("2024-May!"), (Row{"2024", "May"}));
  auto octal = RegexLogParse::make(R"((\0101+)([\p{Digit}]*))");
  ASSERT_TRUE(octal) << error_of(octal);
  EXPECT_EQ(octal->parse("AA12"), (Row{"AA", "12"}));
  auto quoted = RegexLogParse::make(R"(\Q(a)\E(b))");
  ASSERT_TRUE(quoted) << error_of(quoted);
  EXPECT_EQ(quoted->parse("(a)b"), (Row{"b"}));
}

TEST(RegexLogParse, ColumnListNamesAndTypesTheGroups) {
  auto spec = RegexLogParse::make(R"((\d+)-(\w+))", "num INTEGER, \"Word\" TYPE VARCHAR(10)");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(names(spec->columns()), (std::vector<std::string>{"NUM", "Word"}));
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"INTEGER", "VARCHAR(10)"}));
  EXPECT_EQ(spec->parse("42-abc"), (Row{"42", "abc"}));
  auto untyped = RegexLogParse::make(R"((\d+)-(\w+))", "a, b");
  ASSERT_TRUE(untyped);
  EXPECT_EQ(types(untyped->columns()), (std::vector<std::string>{"VARCHAR(1024)", "VARCHAR(1024)"}));
  EXPECT_NE(error_of(RegexLogParse::make(R"((\d+)-(\w+))", "a")).find("names 1 columns"), std::string::npos);
}

TEST(RegexLogParse, RefusesWhatRe2CannotRun) {
  EXPECT_NE(error_of(RegexLogParse::make(R"((a)\1)")).find("backreference"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make(R"((?<n>a)\k<n>)")).find("backreference"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("(?=a)(a)")).find("lookahead"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("(?<!a)(b)")).find("lookbehind"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("(a*+)b")).find("possessive"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("(a{2}+)b")).find("possessive"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("(?>a)(b)")).find("atomic"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("([a-z&&[^b]])")).find("class"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("abc")).find("no capturing group"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make("(a")).find("does not compile"), std::string::npos);
  EXPECT_NE(error_of(RegexLogParse::make(R"((a)\Z)")).find("\\Z"), std::string::npos);
  // Escaped characters are no quantifiers: \++ is one or more '+'.
  auto plus = RegexLogParse::make(R"((\++)(a))");
  ASSERT_TRUE(plus) << error_of(plus);
  EXPECT_EQ(plus->parse("++a"), (Row{"++", "a"}));
}

TEST(RegexLogParse, HostileInputs) {
  // 500 groups, on a 100 KB line.
  std::string pattern;
  for (int i = 0; i < 500; ++i) pattern += "(.)";
  pattern += "(.*)";
  auto many = RegexLogParse::make(pattern);
  ASSERT_TRUE(many) << error_of(many);
  EXPECT_EQ(many->columns().size(), 501u);
  const std::string line(100 * 1024, 'x');
  auto row = timed(5.0, [&] { return many->parse(line); });
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[0], "x");
  EXPECT_EQ((*row)[500]->size(), 1024u);  // cut to the column's VARCHAR(1024)
  // More groups than columns allowed.
  std::string too_many;
  for (int i = 0; i < 1001; ++i) too_many += "(a)";
  EXPECT_NE(error_of(RegexLogParse::make(too_many)).find("more than the 1000"), std::string::npos);
  // A pattern that backtracks exponentially in Java stays linear.
  auto nested = RegexLogParse::make("((a|aa)*)c");
  ASSERT_TRUE(nested);
  EXPECT_EQ(timed(5.0, [&] { return nested->parse(std::string(100 * 1024, 'a')); }), std::nullopt);
  // Over the line limit: no match.
  auto any = RegexLogParse::make("(.*)");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->parse(std::string(kLogParseMaxLineBytes + 1, 'x')), std::nullopt);
  // The empty line.
  EXPECT_EQ(any->parse(""), (Row{""}));
  EXPECT_EQ(any->parse(std::string_view()), (Row{""}));
  EXPECT_EQ(RegexLogParse::make("(a+)")->parse(""), std::nullopt);
  // Invalid UTF-8 does not crash.
  (void)any->parse(std::string("\xff\xfe\x80", 3));
}

// ---------------------------------------------------------------------------------------------
// FAST_REGEX_LOG_PARSER

// sqlref/sql-reference-fast-regex-log-parser, "First FRLP Example". The page prints COLUMN1
// 'Mary_had' and COLUMN2 'a_little_lamb', but its pattern ends with `_.*`, which needs an underscore
// after group 2, so 'a_little_lamb' cannot be group 2 (and the page's own walk-through contradicts
// 'Mary_had'). The decomposition the page describes gives 'a_little', as Java would.
TEST(FastRegexLogParse, DocumentedFirstExample) {
  auto spec = FastRegexLogParse::make("(.*)_(._.*)_.*");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(names(spec->columns()), (std::vector<std::string>{"COLUMN1", "COLUMN2"}));
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"VARCHAR(1024)", "VARCHAR(1024)"}));
  EXPECT_EQ(spec->parse("Mary_had_a_little_lamb"), (Row{"Mary_had", "a_little"}));
  // "If the Fast Regex pattern had omitted the final asterisk, no results would be obtained."
  auto without_star = FastRegexLogParse::make("(.*)_(._.*)_.");
  ASSERT_TRUE(without_star);
  EXPECT_EQ(without_star->parse("Mary_had_a_little_lamb"), std::nullopt);
}

// Example A: "returns no fields", where REGEX_LOG_PARSE, which backtracks, succeeds.
TEST(FastRegexLogParse, DocumentedExampleA) {
  auto spec = FastRegexLogParse::make("(.*)_+(._.*)");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->parse("Mary_had_a_little_lamb"), std::nullopt);
  auto regex = RegexLogParse::make("(.*)_+(._.*)");
  ASSERT_TRUE(regex);
  EXPECT_EQ(regex->parse("Mary_had_a_little_lamb"), (Row{"Mary_had", "a_little_lamb"}));
}

// Example B: "| Mary | had_a_little_lamb |".
TEST(FastRegexLogParse, DocumentedExampleB) {
  auto spec = FastRegexLogParse::make("(.*)_+(.*)");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->parse("Mary____had_a_little_lamb"), (Row{"Mary", "had_a_little_lamb"}));
}

// Example C: "| Mary | had_a_little_lamb |".
TEST(FastRegexLogParse, DocumentedExampleC) {
  auto spec = FastRegexLogParse::make("(.*)_+(<Alpha>.*)");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->parse("Mary____had_a_little_lamb"), (Row{"Mary", "had_a_little_lamb"}));
}

TEST(FastRegexLogParse, LazyGroupsStopAtTheFirstDelimiter) {
  auto spec = FastRegexLogParse::make("(.*),(.*),(.*)");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->parse("a,b,c,d"), (Row{"a", "b", "c,d"}));
  EXPECT_EQ(spec->parse("a,b"), std::nullopt);
  // A literal outside groups must be found but is in no column.
  auto log = FastRegexLogParse::make("(<Digit>+)\" \"(@)\" [\"(<Upper>+)\"] \"(@)");
  ASSERT_TRUE(log) << error_of(log);
  EXPECT_EQ(log->parse("1700000000 web-1 [WARN] disk 91% full"), (Row{"1700000000", "web-1", "WARN", "disk 91% full"}));
}

TEST(FastRegexLogParse, PageSyntax) {
  // <n-m>: fixed width when both bounds have as many digits, else any leading zeros.
  auto interval = FastRegexLogParse::make("(<1-12>)/(<01-31>)");
  ASSERT_TRUE(interval) << error_of(interval);
  EXPECT_EQ(interval->parse("7/04"), (Row{"7", "04"}));
  EXPECT_EQ(interval->parse("007/31"), (Row{"007", "31"}));
  EXPECT_EQ(interval->parse("13/04"), std::nullopt);
  EXPECT_EQ(interval->parse("7/4"), std::nullopt);
  EXPECT_EQ(interval->parse("7/32"), std::nullopt);
  auto wide = FastRegexLogParse::make("(<0-65535>)");
  ASSERT_TRUE(wide);
  EXPECT_EQ(wide->parse("65535"), (Row{"65535"}));
  EXPECT_EQ(wide->parse("65536"), std::nullopt);
  EXPECT_EQ(wide->parse("0"), (Row{"0"}));
  // ^ $ are characters, \c is the character c, "..." a string, () the empty string, # nothing.
  auto literal = FastRegexLogParse::make(R"(^(.*)$"*"\d()(x|#))");
  ASSERT_TRUE(literal) << error_of(literal);
  EXPECT_EQ(literal->parse("^ab$*dx"), (Row{"ab", "", "x"}));
  // Named classes and [] classes.
  auto classes = FastRegexLogParse::make("([^ ]+) (<Space>*)([a-c\\-]+)(<XDigit>{2})");
  ASSERT_TRUE(classes) << error_of(classes);
  EXPECT_EQ(classes->parse("host \t a-cFF"), (Row{"host", "\t ", "a-c", "FF"}));
  // Characters are code points.
  auto utf8 = FastRegexLogParse::make("(.)(.*)");
  ASSERT_TRUE(utf8);
  EXPECT_EQ(utf8->parse("éa"), (Row{"é", "a"}));
}

TEST(FastRegexLogParse, RefusesWhatItCannotRun) {
  EXPECT_NE(error_of(FastRegexLogParse::make("(a)&(b)")).find("intersection"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("(~a)")).find("complement"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("a|(b)")).find("outside parentheses"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("(a)*")).find("quantified group"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("abc")).find("no group"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("(<Foo>)")).find("unknown named pattern"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("(a")).find("missing ')'"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("a)(b)")).find("unbalanced"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("(*a)")).find("nothing to repeat"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("([])")).find("empty character class"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("(a{2000})")).find("above 1000"), std::string::npos);
  EXPECT_NE(error_of(FastRegexLogParse::make("(\"abc)")).find("unterminated"), std::string::npos);
  std::string deep(300, '(');
  deep += std::string(300, ')');
  EXPECT_NE(error_of(FastRegexLogParse::make(deep)).find("nested too deeply"), std::string::npos);
}

TEST(FastRegexLogParse, HostileInputs) {
  // 500 groups, each a lazy piece up to its comma, over a 100 KB line.
  std::string pattern;
  for (int i = 0; i < 500; ++i) pattern += "(.*),";
  pattern += "(.*)";
  auto many = FastRegexLogParse::make(pattern);
  ASSERT_TRUE(many) << error_of(many);
  EXPECT_EQ(many->columns().size(), 501u);
  std::string line;
  while (line.size() < 100 * 1024) line += std::string(150, 'v') + ",";
  auto row = timed(5.0, [&] { return many->parse(line); });
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[0], std::string(150, 'v'));
  // No delimiter at all: every probe fails, still bounded.
  EXPECT_EQ(timed(5.0, [&] { return many->parse(std::string(100 * 1024, 'v')); }), std::nullopt);
  auto two = FastRegexLogParse::make("(.*)x(.*)y");
  ASSERT_TRUE(two);
  EXPECT_EQ(timed(5.0, [&] { return two->parse(std::string(100 * 1024, 'x')); }), std::nullopt);
  std::string too_many;
  for (int i = 0; i < 1001; ++i) too_many += "(a)";
  EXPECT_NE(error_of(FastRegexLogParse::make(too_many)).find("more than 1000"), std::string::npos);
  // The empty line.
  EXPECT_EQ(FastRegexLogParse::make("(.*)")->parse(""), (Row{""}));
  EXPECT_EQ(FastRegexLogParse::make("(.+)")->parse(""), std::nullopt);
  EXPECT_EQ(FastRegexLogParse::make("(.*)")->parse(std::string(kLogParseMaxLineBytes + 1, 'x')), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// FIXED_COLUMN_LOG_PARSE

// The KDA page has no example; these are SQLstream's (the same function), whose output is A 1,
// B true: the slices of non-character columns lose their surrounding blanks, and the caller casts
// them to the declared types.
TEST(FixedColumnLogParse, SqlstreamExamples) {
  auto spec = FixedColumnLogParse::make("a TYPE Integer START 0 FOR 3, b TYPE boolean START 4");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(names(spec->columns()), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"INTEGER", "BOOLEAN"}));
  EXPECT_EQ(spec->parse("  1   true"), (Row{"1", "true"}));

  auto second = FixedColumnLogParse::make(
      "a TYPE Integer START 0 FOR 3, b TYPE boolean\n               START 4 FOR 6, c TYPE numeric(5,2) START 10");
  ASSERT_TRUE(second) << error_of(second);
  EXPECT_EQ(types(second->columns()), (std::vector<std::string>{"INTEGER", "BOOLEAN", "NUMERIC(5,2)"}));
  EXPECT_EQ(second->parse("  1   true 423.345 "), (Row{"1", "true", "423.345"}));
}

// The page's column definition with a format string: "name" TYPE TIMESTAMP 'dd/MMM/yyyy:HH:mm:ss'.
TEST(FixedColumnLogParse, DocumentedFormatString) {
  auto spec = FixedColumnLogParse::make(
      "\"name\" TYPE TIMESTAMP 'dd/MMM/yyyy:HH:mm:ss' START 1 FOR 20, status TYPE INTEGER NOT NULL START 23 FOR 3");
  ASSERT_TRUE(spec) << error_of(spec);
  ASSERT_EQ(spec->columns().size(), 2u);
  EXPECT_EQ(spec->columns()[0].name, "name");
  EXPECT_EQ(spec->columns()[0].sql_type, "TIMESTAMP");
  EXPECT_EQ(spec->columns()[0].format, "dd/MMM/yyyy:HH:mm:ss");
  EXPECT_FALSE(spec->columns()[0].not_null);
  EXPECT_EQ(spec->columns()[1].name, "STATUS");
  EXPECT_TRUE(spec->columns()[1].not_null);
  EXPECT_EQ(spec->parse("[24/May/2004:22:01:02] 304 ok"), (Row{"24/May/2004:22:01:02", "304"}));
}

TEST(FixedColumnLogParse, PositionsAreCharactersAndFieldsStopAtTheEnd) {
  auto spec = FixedColumnLogParse::make(
      "w TYPE VARCHAR(5) START 6 FOR 5, tail TYPE VARCHAR(20) START 9, past TYPE CHAR(2) START 40, "
      "n TYPE BIGINT START 11 FOR 4");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(spec->parse("héllo wörld    "), (Row{"wörld", "ld    ", std::nullopt, std::nullopt}));  // blank BIGINT
  EXPECT_EQ(spec->parse("héllo wö"), (Row{"wö", std::nullopt, std::nullopt, std::nullopt}));
  EXPECT_EQ(spec->parse("héllo wörld1234"), (Row{"wörld", "ld1234", std::nullopt, "1234"}));
}

TEST(FixedColumnLogParse, CharacterColumnsAreCutToTheirLength) {
  auto spec = FixedColumnLogParse::make(
      "a TYPE VARCHAR(3) START 0, b TYPE CHAR START 0, c TYPE VARCHAR START 0, d TYPE CHARACTER VARYING(2) START 1");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(types(spec->columns()),
            (std::vector<std::string>{"VARCHAR(3)", "CHAR", "VARCHAR", "CHARACTER VARYING(2)"}));
  EXPECT_EQ(spec->parse(" éàbc "), (Row{" éà", " ", " éàbc ", "éà"}));
}

TEST(FixedColumnLogParse, RefusesBadDescriptions) {
  auto err = [](const char* d) { return error_of(FixedColumnLogParse::make(d)); };
  EXPECT_NE(err("a TYPE INTEGER").find("expected START"), std::string::npos);
  EXPECT_NE(err("a INTEGER START 0").find("expected TYPE"), std::string::npos);
  EXPECT_NE(err("a TYPE WIDGET START 0").find("unknown data type WIDGET"), std::string::npos);
  EXPECT_NE(err("a TYPE INTEGER 'yyyy' START 0").find("only DATE, TIME and TIMESTAMP"), std::string::npos);
  EXPECT_NE(err("a TYPE INTEGER START -1").find("negative"), std::string::npos);
  EXPECT_NE(err("a TYPE INTEGER START 0, A TYPE INTEGER START 1").find("declared twice"), std::string::npos);
  EXPECT_NE(err("").find("empty"), std::string::npos);
  EXPECT_NE(err("a TYPE TIMESTAMP 'yyyy START 0").find("unterminated"), std::string::npos);
  EXPECT_NE(err("a TYPE INTEGER(3) START 0").find("takes no length"), std::string::npos);
  EXPECT_NE(err("a TYPE INTEGER START 0 b TYPE INTEGER START 1").find("unexpected 'b'"), std::string::npos);
  EXPECT_NE(err("a TYPE INTEGER START 99999999999").find("larger than"), std::string::npos);
  std::string many;
  for (int i = 0; i < 1001; ++i) many += (i ? ", c" : "c") + std::to_string(i) + " TYPE INTEGER START 0";
  EXPECT_NE(err(many.c_str()).find("more than 1000"), std::string::npos);
}

TEST(FixedColumnLogParse, HostileInputs) {
  std::string description;
  for (int i = 0; i < 1000; ++i) {
    description +=
        (i ? ", c" : "c") + std::to_string(i) + " TYPE VARCHAR(100) START " + std::to_string(i * 100) + " FOR 100";
  }
  auto spec = FixedColumnLogParse::make(description);
  ASSERT_TRUE(spec) << error_of(spec);
  const std::string line(100 * 1024, 'z');
  auto row = timed(5.0, [&] { return spec->parse(line); });
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[999], std::string(100, 'z'));
  const auto empty = spec->parse("");
  ASSERT_TRUE(empty);
  EXPECT_EQ((*empty)[0], std::nullopt);
  EXPECT_EQ(spec->parse(std::string(kLogParseMaxLineBytes + 1, 'x')), std::nullopt);
  // Overlapping unbounded columns: a row of more than 16 MB is not parsed.
  std::string overlapping;
  for (int i = 0; i < 20; ++i) overlapping += (i ? ", c" : "c") + std::to_string(i) + " TYPE VARCHAR START 0";
  auto wide = FixedColumnLogParse::make(overlapping);
  ASSERT_TRUE(wide) << error_of(wide);
  EXPECT_TRUE(wide->parse(std::string(512 * 1024, 'y')));
  EXPECT_EQ(timed(5.0, [&] { return wide->parse(std::string(kLogParseMaxLineBytes, 'y')); }), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// VARIABLE_COLUMN_LOG_PARSE

// dev/examples-transforming-strings-variablecolumnlogparse: 'x,y,z' into COL_1..COL_3.
TEST(VariableColumnLogParse, DeveloperGuideExample) {
  auto spec = VariableColumnLogParse::with_columns(
      "COL_1 TYPE VARCHAR(16), COL_2 TYPE VARCHAR(16), COL_3 TYPE VARCHAR(16)", ",");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(names(spec->columns()), (std::vector<std::string>{"COL_1", "COL_2", "COL_3"}));
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"VARCHAR(16)", "VARCHAR(16)", "VARCHAR(16)"}));
  EXPECT_EQ(spec->parse("x,y,z"), (Row{"x", "y", "z"}));
}

// The page: with a comma delimiter and a backslash escape, "a,b" is two fields "a" and "b", and
// "a\,b" one field "a,b". By default the columns are COLUMN1.. VARCHAR(1024).
TEST(VariableColumnLogParse, DocumentedEscapeExample) {
  auto spec = VariableColumnLogParse::with_count(2, ",", "\\");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(names(spec->columns()), (std::vector<std::string>{"COLUMN1", "COLUMN2"}));
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"VARCHAR(1024)", "VARCHAR(1024)"}));
  EXPECT_EQ(spec->parse("a,b"), (Row{"a", "b"}));
  EXPECT_EQ(spec->parse("a\\,b"), (Row{"a,b", std::nullopt}));
}

// The page's tab delimiter, u&'\0009'.
TEST(VariableColumnLogParse, TabDelimiter) {
  auto spec = VariableColumnLogParse::with_count(3, "\t");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->parse("a\tb c\t"), (Row{"a", "b c", ""}));
}

// The page's quotes: one character begins and ends; two are begin and end. SQLstream's input for
// this function (its output was not readable): a quoted address with commas stays one field.
TEST(VariableColumnLogParse, Quotes) {
  auto spec = VariableColumnLogParse::with_count(3, ",", "", "\"");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(spec->parse("John Doe,\"514 West Bay, Newport Beach, CA, 92661-1122\",$32.16"),
            (Row{"John Doe", "514 West Bay, Newport Beach, CA, 92661-1122", "$32.16"}));
  EXPECT_EQ(spec->parse("Jane Doe,\"4919 Lido Sands Drive, Newport Beach, CA, 92661\",$15.22"),
            (Row{"Jane Doe", "4919 Lido Sands Drive, Newport Beach, CA, 92661", "$15.22"}));
  EXPECT_EQ(spec->parse("a,\"say \"\"hi\"\"\",c"), (Row{"a", "say \"hi\"", "c"}));
  auto brackets = VariableColumnLogParse::with_count(3, ",", "\\", "[]");
  ASSERT_TRUE(brackets) << error_of(brackets);
  EXPECT_EQ(brackets->parse("a,[b,c],d"), (Row{"a", "b,c", "d"}));
  EXPECT_EQ(brackets->parse("a,[b\\],c],d"), (Row{"a", "b],c", "d"}));
}

TEST(VariableColumnLogParse, FieldCountsTypesAndDelimiterStrings) {
  auto spec = VariableColumnLogParse::with_columns(
      "host TYPE VARCHAR(20), bytes TYPE BIGINT, at TYPE TIMESTAMP 'dd/MMM/yyyy:HH:mm:ss' NOT NULL", " - ");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(spec->columns()[2].format, "dd/MMM/yyyy:HH:mm:ss");
  EXPECT_TRUE(spec->columns()[2].not_null);
  EXPECT_EQ(spec->parse("web-1 - 512 - 24/May/2004:22:01:02 - extra"), (Row{"web-1", "512", "24/May/2004:22:01:02"}));
  EXPECT_EQ(spec->parse("web-1 -  - x"), (Row{"web-1", std::nullopt, "x"}));  // empty BIGINT: NULL
  EXPECT_EQ(spec->parse("web-1"), (Row{"web-1", std::nullopt, std::nullopt}));
  EXPECT_EQ(spec->parse(" - "), (Row{"", std::nullopt, std::nullopt}));
}

TEST(VariableColumnLogParse, RefusesBadArguments) {
  EXPECT_NE(error_of(VariableColumnLogParse::with_count(0, ",")).find("from 1 to 1000"), std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_count(1001, ",")).find("from 1 to 1000"), std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_count(2, "")).find("delimiter is empty"), std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_count(2, ",", "\\\\")).find("one character"), std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_count(2, ",", "", "'\"'")).find("one or two"), std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_count(2, ",", "", ",")).find("begins with"), std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_count(2, ",", "\"", "\"")).find("must differ"), std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_columns("a VARCHAR(3)", ",")).find("expected TYPE"),
            std::string::npos);
  EXPECT_NE(error_of(VariableColumnLogParse::with_columns("a TYPE VARCHAR(3) START 0", ",")).find("unexpected 'START'"),
            std::string::npos);
}

TEST(VariableColumnLogParse, HostileInputs) {
  auto spec = VariableColumnLogParse::with_count(3, ",", "\\", "\"");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->parse("a,\"b,c"), (Row{"a", "b,c", std::nullopt}));  // unbalanced quote: runs to the end
  EXPECT_EQ(spec->parse("a,b\\"), (Row{"a", "b\\", std::nullopt}));    // escape at the end of the line
  EXPECT_EQ(spec->parse("\\"), (Row{"\\", std::nullopt, std::nullopt}));
  EXPECT_EQ(spec->parse(""), (Row{"", std::nullopt, std::nullopt}));  // the empty line
  auto wide = VariableColumnLogParse::with_count(1000, ",", "\\", "\"");
  ASSERT_TRUE(wide);
  std::string line;
  while (line.size() < 100 * 1024) line += "\"q,q\",e\\,e,plain,";
  auto row = timed(5.0, [&] { return wide->parse(line); });
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[0], "q,q");
  EXPECT_EQ((*row)[1], "e,e");
  EXPECT_EQ((*row)[2], "plain");
  const std::string quote_open = "\"" + std::string(100 * 1024, ',');
  auto open = timed(5.0, [&] { return wide->parse(quote_open); });
  ASSERT_TRUE(open);
  EXPECT_EQ((*open)[0]->size(), 1024u);  // VARCHAR(1024)
  EXPECT_EQ(wide->parse(std::string(kLogParseMaxLineBytes + 1, 'x')), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// SYS_LOG_PARSE

// The page: "Mon DD HH:MM:SS server message", COLUMN1 TIMESTAMP and COLUMN2 VARCHAR.
TEST(SysLogParse, DocumentedFormat) {
  const SysLogParse spec;
  EXPECT_EQ(names(spec.columns()), (std::vector<std::string>{"COLUMN1", "COLUMN2"}));
  EXPECT_EQ(types(spec.columns()), (std::vector<std::string>{"TIMESTAMP", "VARCHAR"}));
  EXPECT_EQ(spec.columns()[0].format, "MMM dd HH:mm:ss");
  EXPECT_EQ(spec.parse("Mar 24 10:00:00 myhost sshd[123]: Accepted publickey"),
            (Row{"Mar 24 10:00:00", "myhost sshd[123]: Accepted publickey"}));
  EXPECT_EQ(spec.parse("Mar  4 09:05:07 host message"), (Row{"Mar 04 09:05:07", "host message"}));
  EXPECT_EQ(spec.parse(" dec 31 23:59:59 h"), (Row{"Dec 31 23:59:59", "h"}));
  // RFC 3164's example, with its <PRI>.
  EXPECT_EQ(spec.parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"),
            (Row{"Oct 11 22:14:15", "mymachine su: 'su root' failed for lonvick on /dev/pts/8"}));
  EXPECT_EQ(spec.parse("Mar 24 10:00:00"), (Row{"Mar 24 10:00:00", ""}));
}

TEST(SysLogParse, NotSyslog) {
  const SysLogParse spec;
  EXPECT_EQ(spec.parse(""), std::nullopt);
  EXPECT_EQ(spec.parse("Foo 24 10:00:00 x"), std::nullopt);
  EXPECT_EQ(spec.parse("Mar 32 10:00:00 x"), std::nullopt);
  EXPECT_EQ(spec.parse("Mar 24 24:00:00 x"), std::nullopt);
  EXPECT_EQ(spec.parse("Mar 24 10:00:00x"), std::nullopt);
  EXPECT_EQ(spec.parse("Mar 24 10:0:00 x"), std::nullopt);
  EXPECT_EQ(spec.parse("<999>Mar 24 10:00:00 x"), std::nullopt);
  EXPECT_EQ(spec.parse("2024-03-24T10:00:00Z host x"), std::nullopt);
  const std::string big = "Mar 24 10:00:00 " + std::string(100 * 1024, 'm');
  auto row = timed(5.0, [&] { return spec.parse(big); });
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[1]->size(), 100u * 1024);
}

// ---------------------------------------------------------------------------------------------
// W3C_LOG_PARSE

// sqlref/sql-reference-w3c-log-parse, Example 1 (COMMON), and the developer guide's
// examples-transforming-strings-w3clogparse, which parses the same John line.
TEST(W3cLogParse, DocumentedCommonExample) {
  auto spec = W3cLogParse::make("COMMON");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(names(spec->columns()),
            (std::vector<std::string>{"COLUMN1", "COLUMN2", "COLUMN3", "COLUMN4", "COLUMN5", "COLUMN6", "COLUMN7"}));
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"VARCHAR(1024)", "VARCHAR(1024)", "VARCHAR(1024)",
                                                              "VARCHAR(1024)", "VARCHAR(1024)", "BIGINT", "BIGINT"}));
  EXPECT_EQ(
      spec->parse("192.168.254.30 - John [24/May/2004:22:01:02 -0700] \"GET /icons/apache_pb.gif HTTP/1.1\" 304 0"),
      (Row{"192.168.254.30", "-", "John", "[24/May/2004:22:01:02 -0700]", "GET /icons/apache_pb.gif HTTP/1.1", "304",
           "0"}));
  EXPECT_EQ(
      spec->parse("192.168.254.30 - Jane [24/May/2004:22:01:02 -0700] \"GET /icons/small/dir.gif HTTP/1.1\" 304 0"),
      (Row{"192.168.254.30", "-", "Jane", "[24/May/2004:22:01:02 -0700]", "GET /icons/small/dir.gif HTTP/1.1", "304",
           "0"}));
}

// "The same results would be created by naming the specifiers directly", with the page's \"; and
// "If you change %t to [%t], the date column contains 24/May/2004:22:01:02 -0700".
TEST(W3cLogParse, DocumentedCustomFormats) {
  const std::string line =
      "192.168.254.30 - John [24/May/2004:22:01:02 -0700] \"GET /icons/apache_pb.gif HTTP/1.1\" 304 0";
  auto custom = W3cLogParse::make(R"(%h %l %u %t \"%r\" %>s %b)");
  ASSERT_TRUE(custom) << error_of(custom);
  EXPECT_EQ(custom->parse(line), W3cLogParse::make("COMMON")->parse(line));
  auto bracketed = W3cLogParse::make(R"(%h %l %u [%t] \"%r\" %>s %b)");
  ASSERT_TRUE(bracketed) << error_of(bracketed);
  const auto row = bracketed->parse(line);
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[3], "24/May/2004:22:01:02 -0700");
}

TEST(W3cLogParse, PredefinedFormats) {
  const std::string combined =
      R"(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 )"
      R"x("http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)")x";
  auto ncsa = W3cLogParse::make("ncsa   extended");
  ASSERT_TRUE(ncsa) << error_of(ncsa);
  EXPECT_EQ(ncsa->columns().size(), 9u);
  EXPECT_EQ(ncsa->parse(combined),
            (Row{"127.0.0.1", "-", "frank", "[10/Oct/2000:13:55:36 -0700]", "GET /apache_pb.gif HTTP/1.0", "200",
                 "2326", "http://www.example.com/start.html", "Mozilla/4.08 [en] (Win98; I ;Nav)"}));
  auto vhost = W3cLogParse::make("COMMON WITH VHOST");
  ASSERT_TRUE(vhost);
  EXPECT_EQ(vhost->parse("www.example.com 10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 404 -"),
            (Row{"www.example.com", "10.0.0.1", "-", "-", "[10/Oct/2000:13:55:36 -0700]", "GET / HTTP/1.0", "404",
                 std::nullopt}));  // %b's '-' is NULL in a BIGINT column
  auto referer = W3cLogParse::make("REFERER");
  ASSERT_TRUE(referer);
  EXPECT_EQ(referer->parse("http://www.example.com/start.html ---> /apache_pb.gif"),
            (Row{"http://www.example.com/start.html", "/apache_pb.gif"}));
  auto agent = W3cLogParse::make("AGENT");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->parse("Mozilla/4.08 [en] (Win98; I ;Nav)"), (Row{"Mozilla/4.08 [en] (Win98; I ;Nav)"}));
  EXPECT_EQ(agent->parse(""), (Row{""}));
}

TEST(W3cLogParse, SpecifierDetails) {
  // Conditions and {name} or [name] arguments; %% is a percent sign; escaped quotes stay as logged.
  auto spec = W3cLogParse::make(R"(%!200,304{Referer}i %400,501[User-agent]i 100%% %<s %{%d/%b}t %D "%r")");
  ASSERT_TRUE(spec) << error_of(spec);
  EXPECT_EQ(types(spec->columns()), (std::vector<std::string>{"VARCHAR(1024)", "VARCHAR(1024)", "BIGINT",
                                                              "VARCHAR(1024)", "BIGINT", "VARCHAR(1024)"}));
  EXPECT_EQ(spec->parse(R"(- curl/8 100% 200 24/May 1234 "GET /a\"b HTTP/1.1")"),
            (Row{"-", "curl/8", "200", "24/May", "1234", R"(GET /a\"b HTTP/1.1)"}));
  EXPECT_EQ(spec->parse(R"(- curl/8 100% 2x0 24/May 1234 "GET / HTTP/1.1")"), std::nullopt);  // status not a number
  auto untyped = W3cLogParse::make("COMMON", false);
  ASSERT_TRUE(untyped);
  EXPECT_EQ(types(untyped->columns())[6], "VARCHAR(1024)");
  const auto row = untyped->parse("h - - [24/May/2004:22:01:02 -0700] \"GET / HTTP/1.1\" 304 -");
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[6], "-");
}

TEST(W3cLogParse, RefusesBadFormats) {
  EXPECT_NE(error_of(W3cLogParse::make("IIS")).find("IIS"), std::string::npos);
  EXPECT_NE(error_of(W3cLogParse::make("COMBINEDX")).find("unknown format"), std::string::npos);
  EXPECT_NE(error_of(W3cLogParse::make("%h %k")).find("unknown format specifier %k"), std::string::npos);
  EXPECT_NE(error_of(W3cLogParse::make("%{Referer")).find("unterminated"), std::string::npos);
  EXPECT_NE(error_of(W3cLogParse::make("%h %")).find("ends inside"), std::string::npos);
  EXPECT_NE(error_of(W3cLogParse::make("100%%")).find("no % specifier"), std::string::npos);
  std::string many;
  for (int i = 0; i < 1001; ++i) many += "%h ";
  EXPECT_NE(error_of(W3cLogParse::make(many)).find("more than 1000"), std::string::npos);
}

TEST(W3cLogParse, HostileInputs) {
  auto spec = W3cLogParse::make("NCSA EXTENDED");
  ASSERT_TRUE(spec);
  const std::string long_request = "h - - [24/May/2004:22:01:02 -0700] \"GET /" + std::string(100 * 1024, 'a') +
                                   " HTTP/1.1\" 200 5 \"-\" \"" + std::string(1000, '"') + "\"";
  auto row = timed(5.0, [&] { return spec->parse(long_request); });
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)[8]->size(), 1000u);
  const std::string no_match = std::string(100 * 1024, ' ') + "x";
  EXPECT_EQ(timed(5.0, [&] { return spec->parse(no_match); }), std::nullopt);
  EXPECT_EQ(spec->parse(""), std::nullopt);
  EXPECT_EQ(spec->parse(std::string(kLogParseMaxLineBytes + 1, 'x')), std::nullopt);
}

}  // namespace
}  // namespace eddy::sql
