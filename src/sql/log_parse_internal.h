// Internal to the log-parsing functions (log_parse*.cc): the helpers they share.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <re2/re2.h>

#include "sql/log_parse.h"

namespace eddy::sql::log_parse_detail {

using re2::RE2;
using re2::StringPiece;

constexpr int64_t kPatternMaxMem = int64_t{8} << 20;  // RE2's budget for one function's program
constexpr int64_t kPieceMinMem = int64_t{256} << 10;
constexpr size_t kMaxPatternBytes = size_t{64} << 10;
constexpr int kMaxNesting = 200;
constexpr int kMaxRepeat = 1000;  // RE2's largest {n,m}

inline tl::unexpected<Error> bad(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

inline std::string column_name(size_t i) {
  return "COLUMN" + std::to_string(i + 1);
}

// A string_view whose data() is never null, so that an empty match inside it has an address (RE2
// reports a group that took no part in the match with a null data()).
inline std::string_view non_null(std::string_view s) {
  return s.data() == nullptr ? std::string_view("", 0) : s;
}

// The code point at s[i], advancing i; a byte that does not start a valid UTF-8 sequence is one
// character, U+FFFD.
inline char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) { return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80; };
  auto cb = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF && cont(1)) {
    const char32_t c = (static_cast<char32_t>(b0 & 0x1F) << 6) | cb(1);
    i += 2;
    return c;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF && cont(1) && cont(2)) {
    const char32_t c = (static_cast<char32_t>(b0 & 0x0F) << 12) | (cb(1) << 6) | cb(2);
    if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {
      i += 3;
      return c;
    }
  }
  if (b0 >= 0xF0 && b0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    const char32_t c = (static_cast<char32_t>(b0 & 0x07) << 18) | (cb(1) << 12) | (cb(2) << 6) | cb(3);
    if (c >= 0x10000 && c <= 0x10FFFF) {
      i += 4;
      return c;
    }
  }
  ++i;
  return 0xFFFD;
}

inline size_t code_points(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) next_code_point(s, i);
  return n;
}

inline std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The first `n` characters of `s` (all of it when n is 0).
inline std::string_view first_chars(std::string_view s, size_t n) {
  if (n == 0 || s.size() <= n) return s;  // n characters take at least n bytes
  size_t i = 0;
  for (size_t c = 0; c < n && i < s.size(); ++c) next_code_point(s, i);
  return s.substr(0, i);
}

// A column's text as LogFieldShape describes.
inline std::optional<std::string> shaped(std::string_view raw, const LogFieldShape& shape) {
  if (shape.character) return std::string(first_chars(raw, shape.max_chars));
  while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) raw.remove_prefix(1);
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) raw.remove_suffix(1);
  if (raw.empty()) return std::nullopt;
  return std::string(first_chars(raw, 1024));
}

// The shape of a column of type `sql_type` (upper case, as the column lists normalise it).
inline LogFieldShape shape_of(const std::string& sql_type) {
  LogFieldShape shape;
  shape.character = sql_type.find("CHAR") != std::string::npos;
  if (!shape.character) return shape;
  const size_t open = sql_type.find('(');
  if (open != std::string::npos) {
    shape.max_chars = std::strtoull(sql_type.c_str() + open + 1, nullptr, 10);
  } else if (sql_type.find("VARYING") == std::string::npos && sql_type.rfind("VARCHAR", 0) != 0) {
    shape.max_chars = 1;  // CHAR without a length is CHAR(1)
  }
  return shape;
}

// Fixed and regex columns may overlap: a row whose texts add up to more than this is not parsed,
// so that no line can make a row of a gigabyte.
constexpr size_t kMaxRowBytes = size_t{16} << 20;

inline bool row_too_big(const LogFields& fields) {
  size_t total = 0;
  for (const auto& f : fields) total += f ? f->size() : 0;
  return total > kMaxRowBytes;
}

inline std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// ---------------------------------------------------------------------------------------------
// Column lists: 'name TYPE t ['format'] [NOT NULL] [START n [FOR m]], ...'

struct Token {
  enum Kind { kWord, kQuotedName, kString, kNumber, kPunct, kEnd } kind;
  std::string text;
  size_t pos;
};

inline Result<std::vector<Token>> tokenize(std::string_view s, const std::string& fn) {
  std::vector<Token> out;
  size_t i = 0;
  auto word_char = [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (std::isdigit(c)) {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      out.push_back({Token::kNumber, std::string(s.substr(start, i - start)), start});
    } else if (word_char(c)) {
      while (i < s.size() && word_char(static_cast<unsigned char>(s[i]))) ++i;
      out.push_back({Token::kWord, std::string(s.substr(start, i - start)), start});
    } else if (c == '"' || c == '\'') {
      std::string text;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == static_cast<char>(c)) {
          if (i + 1 < s.size() && s[i + 1] == static_cast<char>(c)) {
            text += static_cast<char>(c);
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        text += s[i++];
      }
      if (!closed) {
        return bad(fn + ": the column list has an unterminated " + (c == '"' ? "quoted name" : "string") +
                   " at position " + std::to_string(start));
      }
      out.push_back({c == '"' ? Token::kQuotedName : Token::kString, std::move(text), start});
    } else if (c == '(' || c == ')' || c == ',' || c == '-' || c == '+') {
      out.push_back({Token::kPunct, std::string(1, static_cast<char>(c)), start});
      ++i;
    } else {
      return bad(fn + ": unexpected character '" + std::string(1, static_cast<char>(c)) +
                 "' in the column list at position " + std::to_string(start));
    }
  }
  out.push_back({Token::kEnd, "", s.size()});
  return out;
}

struct TypeInfo {
  std::string text;  // upper case, e.g. "NUMERIC(5,2)", "DOUBLE PRECISION"
  bool datetime = false;
};

struct ColumnSpec {
  ParsedColumn column;
  bool has_start = false;
  size_t start = 0;
  std::optional<size_t> length;
};

enum class ListKind { kRegex, kFixed, kVariable };

class ColumnListParser {
 public:
  ColumnListParser(std::vector<Token> tokens, std::string fn) : t_(std::move(tokens)), fn_(std::move(fn)) {}

  Result<std::vector<ColumnSpec>> parse(ListKind kind) {
    std::vector<ColumnSpec> specs;
    if (peek().kind == Token::kEnd) return bad(fn_ + ": the column list is empty");
    for (;;) {
      if (specs.size() == kLogParseMaxColumns) {
        return bad(fn_ + ": more than " + std::to_string(kLogParseMaxColumns) + " columns");
      }
      auto spec = parse_column(kind);
      if (!spec) return tl::unexpected(spec.error());
      specs.push_back(std::move(*spec));
      if (peek().kind == Token::kEnd) break;
      if (!is_punct(",")) return unexpected("after column " + specs.back().column.name);
      ++p_;
    }
    std::set<std::string> names;
    for (const auto& s : specs) {
      if (!names.insert(s.column.name).second) return bad(fn_ + ": column " + s.column.name + " is declared twice");
    }
    return specs;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
  bool is_punct(const char* p, size_t ahead = 0) const {
    return peek(ahead).kind == Token::kPunct && peek(ahead).text == p;
  }
  bool is_word(const char* w, size_t ahead = 0) const {
    return peek(ahead).kind == Token::kWord && upper_ascii(peek(ahead).text) == w;
  }
  tl::unexpected<Error> unexpected(const std::string& where) const {
    const Token& t = peek();
    const std::string what = t.kind == Token::kEnd ? "the end of the column list" : "'" + t.text + "'";
    return bad(fn_ + ": unexpected " + what + " " + where + " (position " + std::to_string(t.pos) + ")");
  }

  Result<size_t> number(const std::string& what, const std::string& column) {
    if (is_punct("-")) return bad(fn_ + ": " + what + " of column " + column + " must not be negative");
    if (is_punct("+")) ++p_;
    if (peek().kind != Token::kNumber) return unexpected("where column " + column + " needs the number for " + what);
    uint64_t v = 0;
    const std::string& s = peek().text;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v > kLogParseMaxLineBytes) {
      return bad(fn_ + ": " + what + " of column " + column + " is larger than " +
                 std::to_string(kLogParseMaxLineBytes));
    }
    ++p_;
    return static_cast<size_t>(v);
  }

  Result<TypeInfo> parse_type(const std::string& column) {
    if (peek().kind != Token::kWord) return unexpected("where column " + column + " needs its data type");
    std::string base = upper_ascii(peek().text);
    ++p_;
    if (base == "DOUBLE" && is_word("PRECISION")) {
      base = "DOUBLE PRECISION";
      ++p_;
    } else if ((base == "CHARACTER" || base == "CHAR") && is_word("VARYING")) {
      base += " VARYING";
      ++p_;
    }
    static const std::map<std::string, int> kMaxArgs = {
        {"BOOLEAN", 0},     {"TINYINT", 0}, {"SMALLINT", 0}, {"INTEGER", 0},   {"INT", 0},
        {"BIGINT", 0},      {"REAL", 0},    {"FLOAT", 0},    {"DOUBLE", 0},    {"DOUBLE PRECISION", 0},
        {"DECIMAL", 2},     {"NUMERIC", 2}, {"DEC", 2},      {"DATE", 0},      {"TIME", 0},
        {"TIMESTAMP", 0},   {"VARCHAR", 1}, {"CHAR", 1},     {"CHARACTER", 1}, {"CHARACTER VARYING", 1},
        {"CHAR VARYING", 1}};
    const auto known = kMaxArgs.find(base);
    if (known == kMaxArgs.end()) return bad(fn_ + ": column " + column + " has an unknown data type " + base);
    TypeInfo info;
    info.text = base;
    info.datetime = base == "DATE" || base == "TIME" || base == "TIMESTAMP";
    if (is_punct("(")) {
      ++p_;
      std::vector<std::string> args;
      for (;;) {
        if (peek().kind != Token::kNumber) return unexpected("in the data type of column " + column);
        args.push_back(peek().text);
        ++p_;
        if (is_punct(",")) {
          ++p_;
          continue;
        }
        if (is_punct(")")) {
          ++p_;
          break;
        }
        return unexpected("in the data type of column " + column);
      }
      if (static_cast<int>(args.size()) > known->second) {
        return bad(fn_ + ": data type " + base + " of column " + column + " takes " +
                   (known->second == 0 ? "no length" : "at most " + std::to_string(known->second) + " numbers"));
      }
      info.text += "(";
      for (size_t i = 0; i < args.size(); ++i) info.text += (i ? "," : "") + args[i];
      info.text += ")";
    }
    return info;
  }

  Result<ColumnSpec> parse_column(ListKind kind) {
    ColumnSpec spec;
    const Token& name = peek();
    if (name.kind == Token::kWord && !std::isdigit(static_cast<unsigned char>(name.text[0]))) {
      spec.column.name = upper_ascii(name.text);
    } else if (name.kind == Token::kQuotedName && !name.text.empty()) {
      spec.column.name = name.text;
    } else {
      return unexpected("where a column name belongs");
    }
    ++p_;
    const std::string& col = spec.column.name;
    TypeInfo type{"VARCHAR(1024)", false};
    if (kind == ListKind::kRegex) {
      if (is_word("TYPE")) ++p_;
      if (peek().kind == Token::kWord) {
        auto t = parse_type(col);
        if (!t) return tl::unexpected(t.error());
        type = std::move(*t);
      }
    } else {
      if (!is_word("TYPE")) return unexpected("after column " + col + " (expected TYPE)");
      ++p_;
      auto t = parse_type(col);
      if (!t) return tl::unexpected(t.error());
      type = std::move(*t);
    }
    spec.column.sql_type = type.text;
    bool has_format = false;
    for (;;) {
      if (peek().kind == Token::kString) {
        if (!type.datetime) {
          return bad(fn_ + ": column " + col + " has a format, which only DATE, TIME and TIMESTAMP columns take");
        }
        if (has_format) return bad(fn_ + ": column " + col + " has two formats");
        if (peek().text.empty()) return bad(fn_ + ": column " + col + " has an empty format");
        spec.column.format = peek().text;
        has_format = true;
        ++p_;
      } else if (is_word("NOT") && is_word("NULL", 1)) {
        spec.column.not_null = true;
        p_ += 2;
      } else if (kind == ListKind::kFixed && is_word("START") && !spec.has_start) {
        ++p_;
        auto n = number("START", col);
        if (!n) return tl::unexpected(n.error());
        spec.start = *n;
        spec.has_start = true;
      } else if (kind == ListKind::kFixed && is_word("FOR") && spec.has_start && !spec.length) {
        ++p_;
        auto n = number("FOR", col);
        if (!n) return tl::unexpected(n.error());
        spec.length = *n;
      } else {
        break;
      }
    }
    if (kind == ListKind::kFixed && !spec.has_start) return unexpected("after column " + col + " (expected START)");
    return spec;
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  std::string fn_;
};

inline Result<std::vector<ColumnSpec>> parse_column_list(std::string_view text, ListKind kind, const std::string& fn) {
  auto tokens = tokenize(text, fn);
  if (!tokens) return tl::unexpected(tokens.error());
  return ColumnListParser(std::move(*tokens), fn).parse(kind);
}

// ---------------------------------------------------------------------------------------------
// RE2 helpers

inline RE2::Options re2_options(int64_t max_mem, bool longest = false) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(max_mem);
  o.set_longest_match(longest);
  o.set_encoding(RE2::Options::EncodingUTF8);
  return o;
}

// The end of the shortest prefix of text[pos..] that `re` matches, found by galloping then
// bisecting over "does some prefix of text[pos, e) match?" (monotone in e). Without submatches RE2
// stops at the earliest match, so each probe costs at most about the answer's length, and the
// whole search O(L log L) for an answer L bytes long (O(n log n) when there is none).
inline std::optional<size_t> shortest_end(const RE2& re, std::string_view text, size_t pos) {
  auto probe = [&](size_t e) { return re.Match(StringPiece(text), pos, e, RE2::ANCHOR_START, nullptr, 0); };
  if (probe(pos)) return pos;
  size_t lo = pos, hi = pos, step = 1;
  for (;;) {
    hi = pos + std::min(step, text.size() - pos);
    if (probe(hi)) break;
    if (hi == text.size()) return std::nullopt;
    lo = hi;
    step *= 2;
  }
  while (hi - lo > 1) {  // probe(lo) is false, probe(hi) true
    const size_t mid = lo + (hi - lo) / 2;
    (probe(mid) ? hi : lo) = mid;
  }
  return hi;
}

inline std::string hex_escape(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\x{%X}", static_cast<unsigned>(c));
  return buf;
}

inline std::vector<ParsedColumn> numbered_columns(size_t n, const char* type) {
  std::vector<ParsedColumn> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = ParsedColumn{column_name(i), type, "", false};
  return out;
}

// ---------------------------------------------------------------------------------------------
// Column positions of FIXED_COLUMN_LOG_PARSE: character indexes to byte offsets, in one pass.

inline std::vector<size_t> byte_offsets(std::string_view text, const std::vector<size_t>& sorted_chars) {
  std::vector<size_t> out(sorted_chars.size(), text.size());
  size_t byte = 0, ch = 0, k = 0;
  while (k < sorted_chars.size()) {
    if (sorted_chars[k] == ch) {
      out[k++] = byte;
      continue;
    }
    if (byte >= text.size()) break;
    next_code_point(text, byte);
    ++ch;
  }
  return out;
}

}  // namespace eddy::sql::log_parse_detail
