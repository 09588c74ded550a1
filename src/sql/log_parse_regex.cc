// REGEX_LOG_PARSE (log_parse.h): Java patterns translated for RE2.
#include "sql/log_parse.h"

#include "sql/log_parse_internal.h"

namespace eddy::sql {

using namespace log_parse_detail;  // NOLINT: the shared helpers of the log-parsing files

namespace {

// ---------------------------------------------------------------------------------------------
// REGEX_LOG_PARSE: Java pattern -> RE2 pattern

Result<std::string> java_to_re2(std::string_view p) {
  const std::string fn = "REGEX_LOG_PARSE: ";
  std::string out;
  out.reserve(p.size() + 8);
  bool in_class = false;
  size_t class_start = 0;
  auto possessive_after = [&](size_t i) { return i < p.size() && p[i] == '+'; };
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return bad(fn + "the pattern ends with a lone backslash");
      const char n = p[i + 1];
      if (n == 'Q') {  // \Q...\E quotes everything up to \E (or the end); RE2 reads it the same way
        const size_t end = p.find("\\E", i + 2);
        const size_t stop = end == std::string_view::npos ? p.size() : end + 2;
        out.append(p.substr(i, stop - i));
        i = stop;
        continue;
      }
      if (!in_class && n >= '1' && n <= '9') {
        return bad(fn + "backreference \\" + std::string(1, n) +
                   " is not supported: eddy runs patterns with RE2, which matches in linear time and has no "
                   "backreferences");
      }
      if (n == 'k' && i + 2 < p.size() && p[i + 2] == '<') {
        return bad(fn + "named backreference \\k<...> is not supported: RE2 has no backreferences");
      }
      if (n == 'u') {  // Java's \uXXXX
        if (i + 6 > p.size() ||
            !std::all_of(p.begin() + static_cast<std::ptrdiff_t>(i + 2), p.begin() + static_cast<std::ptrdiff_t>(i + 6),
                         [](char h) { return std::isxdigit(static_cast<unsigned char>(h)); })) {
          return bad(fn + "\\u must be followed by four hexadecimal digits");
        }
        out += "\\x{" + std::string(p.substr(i + 2, 4)) + "}";
        i += 6;
        continue;
      }
      if (n == '0') {  // Java's octal \0n, \0nn, \0mnn (m <= 3)
        size_t j = i + 2;
        unsigned v = 0;
        while (j < p.size() && j < i + 5 && p[j] >= '0' && p[j] <= '7' && v * 8 + (p[j] - '0') <= 0377) {
          v = v * 8 + static_cast<unsigned>(p[j] - '0');
          ++j;
        }
        if (j == i + 2) return bad(fn + "\\0 must be followed by an octal digit");
        out += hex_escape(v);
        i = j;
        continue;
      }
      if ((n == 'p' || n == 'P') && i + 2 < p.size() && p[i + 2] == '{') {  // Java's POSIX classes
        static const std::set<std::string> kPosix = {"Lower", "Upper", "ASCII", "Alpha", "Digit",  "Alnum", "Punct",
                                                     "Graph", "Print", "Blank", "Cntrl", "XDigit", "Space"};
        const size_t close = p.find('}', i + 3);
        if (close != std::string_view::npos && kPosix.count(std::string(p.substr(i + 3, close - i - 3)))) {
          const std::string cls =
              "[:" + std::string(n == 'P' ? "^" : "") + upper_ascii(p.substr(i + 3, close - i - 3)) + ":]";
          std::string lower;
          for (char ch : cls) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          out += in_class ? lower : "[" + lower + "]";
          i = close + 1;
          continue;
        }
      }
      if (n == 'Z' || n == 'G' || n == 'R' || n == 'X' || n == 'h' || n == 'H') {
        return bad(fn + "\\" + std::string(1, n) + " is not supported by RE2" +
                   (n == 'Z' ? " (use $ or \\z: the line has no terminator)" : ""));
      }
      // Any other escape, with the whole of a multi-byte character after it.
      size_t j = i + 1;
      next_code_point(p, j);
      out.append(p.substr(i, j - i));
      i = j;
      continue;
    }
    if (in_class) {
      if (c == '[') {
        return bad(fn +
                   "a character class inside a character class (Java's union or && intersection) is not "
                   "supported by RE2 (position " +
                   std::to_string(i) + ")");
      }
      if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') {
        return bad(fn + "character class intersection && is not supported by RE2");
      }
      if (c == ']' && i > class_start) in_class = false;
      out += c;
      ++i;
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        out += c;
        ++i;
        if (i < p.size() && p[i] == '^') out += p[i++];
        if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ] is literal
        class_start = i;
        continue;
      case '(':
        if (p.substr(i, 3) == "(?=" || p.substr(i, 3) == "(?!" || p.substr(i, 4) == "(?<=" ||
            p.substr(i, 4) == "(?<!") {
          return bad(fn +
                     "lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported: eddy runs patterns "
                     "with RE2, which matches in linear time");
        }
        if (p.substr(i, 3) == "(?>") return bad(fn + "atomic groups (?>...) are not supported by RE2");
        if (p.substr(i, 3) == "(?<") {  // Java's named group; this RE2 spells it (?P<name>
          out += "(?P<";
          i += 3;
          continue;
        }
        out += c;
        ++i;
        continue;
      case '*':
      case '+':
      case '?':
        out += c;
        ++i;
        if (i < p.size() && p[i] == '?')
          out += p[i++];  // lazy
        else if (possessive_after(i)) {
          return bad(fn +
                     "possessive quantifiers (*+, ++, ?+, {n}+) are not supported by RE2; the greedy form "
                     "without the + gives the same match whenever the possessive one succeeds");
        }
        continue;
      case '{': {
        const size_t close = p.find('}', i);
        out += c;
        ++i;
        if (close != std::string_view::npos &&
            std::all_of(p.begin() + static_cast<std::ptrdiff_t>(i), p.begin() + static_cast<std::ptrdiff_t>(close),
                        [](char d) { return std::isdigit(static_cast<unsigned char>(d)) || d == ','; })) {
          out.append(p.substr(i, close + 1 - i));
          i = close + 1;
          if (i < p.size() && p[i] == '?')
            out += p[i++];
          else if (possessive_after(i)) {
            return bad(fn + "possessive quantifiers (*+, ++, ?+, {n}+) are not supported by RE2");
          }
        }
        continue;
      }
      default:
        out += c;
        ++i;
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// REGEX_LOG_PARSE

Result<RegexLogParse> RegexLogParse::make(std::string_view pattern, std::string_view columns) {
  if (pattern.size() > kMaxPatternBytes) return bad("REGEX_LOG_PARSE: the pattern is longer than 64 KB");
  auto translated = java_to_re2(pattern);
  if (!translated) return tl::unexpected(translated.error());
  auto re = std::make_shared<RE2>(*translated, re2_options(kPatternMaxMem));
  if (!re->ok()) {
    return bad(
        "REGEX_LOG_PARSE: the pattern does not compile under RE2, eddy's linear-time regular-expression "
        "engine: " +
        re->error());
  }
  const int groups = re->NumberOfCapturingGroups();
  if (groups == 0) {
    return bad("REGEX_LOG_PARSE: the pattern has no capturing group, so it would give no columns");
  }
  if (static_cast<size_t>(groups) > kLogParseMaxColumns) {
    return bad("REGEX_LOG_PARSE: the pattern has " + std::to_string(groups) + " groups, more than the " +
               std::to_string(kLogParseMaxColumns) + " columns allowed");
  }
  RegexLogParse out;
  out.re_ = std::move(re);
  if (columns.empty()) {
    out.columns_ = numbered_columns(static_cast<size_t>(groups), "VARCHAR(1024)");
  } else {
    auto specs = parse_column_list(columns, ListKind::kRegex, "REGEX_LOG_PARSE");
    if (!specs) return tl::unexpected(specs.error());
    if (specs->size() != static_cast<size_t>(groups)) {
      return bad("REGEX_LOG_PARSE: the column list names " + std::to_string(specs->size()) +
                 " columns and the pattern has " + std::to_string(groups) + " groups");
    }
    for (auto& s : *specs) out.columns_.push_back(std::move(s.column));
  }
  for (const auto& c : out.columns_) out.shapes_.push_back(shape_of(c.sql_type));
  return out;
}

LogParseResult RegexLogParse::parse(std::string_view text) const {
  text = non_null(text);
  if (text.size() > kLogParseMaxLineBytes) return std::nullopt;
  const size_t n = columns_.size();
  std::vector<StringPiece> sub(n + 1);
  if (!re_->Match(StringPiece(text), 0, text.size(), RE2::ANCHOR_BOTH, sub.data(), static_cast<int>(n + 1))) {
    return std::nullopt;
  }
  LogFields fields(n);
  for (size_t i = 0; i < n; ++i) {
    if (sub[i + 1].data() != nullptr)
      fields[i] = shaped(std::string_view(sub[i + 1].data(), sub[i + 1].size()), shapes_[i]);
  }
  if (row_too_big(fields)) return std::nullopt;
  return fields;
}

}  // namespace eddy::sql
