// String and search functions (sqlref/sql-reference-string-and-search-functions).
#include <algorithm>
#include <memory>

#include <re2/re2.h>
#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "sql/function_call.h"

namespace eddy::sql {

using runtime::EvalContext;
using runtime::Value;

namespace {

// take unbounded time ("(a*)*b" over 25 KB of 'a'). RE2 has no backreferences or lookaround; such
// a pattern is an invalid regular expression (an error row). The compiled pattern of the last call
// is kept per thread: the pattern is nearly always a literal of the query.
std::shared_ptr<const RE2> cached_regex(const std::string& pattern) {
  thread_local std::shared_ptr<const RE2> last;
  if (last && last->pattern() == pattern) return last;
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);  // a pattern whose program needs more is refused (error row)
  last = std::make_shared<const RE2>(pattern, options);
  return last;
}

// Java's replacement syntax ($n a group, \c the character c) in RE2's (\n a group, \\ a backslash).
std::string re2_rewrite(const std::string& java) {
  std::string out;
  out.reserve(java.size());
  for (size_t i = 0; i < java.size(); ++i) {
    const char c = java[i];
    if (c == '$' && i + 1 < java.size() && java[i + 1] >= '0' && java[i + 1] <= '9') {
      out += '\\';
      out += java[++i];
    } else if (c == '\\' && i + 1 < java.size()) {
      const char next = java[++i];
      if (next == '\\')
        out += "\\\\";
      else
        out += next;
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  return out;
}

// Java's replaceAll from byte `from` on (occurrence 0), or the replacement of the occurrence-th
// match only; the text before `from` is kept. An empty match advances one character, as Java does.
Result<std::string> replace_matches(const RE2& re, const std::string& text, const std::string& rewrite, size_t from,
                                    int64_t occurrence) {
  if (from >= text.size() && !text.empty()) return text;
  std::string error;
  if (!re.CheckRewriteString(rewrite, &error)) return make_error(Errc::kInvalidArgument, error);
  const int groups = std::min(re.NumberOfCapturingGroups() + 1, 10);
  std::vector<re2::StringPiece> match(static_cast<size_t>(groups));
  std::string out = text.substr(0, from);
  size_t pos = from;
  int64_t seen = 0;
  while (pos <= text.size() && re.Match(text, pos, text.size(), RE2::UNANCHORED, match.data(), groups)) {
    const size_t begin = static_cast<size_t>(match[0].data() - text.data());
    const size_t end = begin + match[0].size();
    ++seen;
    out.append(text, pos, begin - pos);
    if (occurrence == 0 || seen == occurrence) {
      if (!re.Rewrite(&out, rewrite, match.data(), groups))
        return make_error(Errc::kInvalidArgument, "bad replacement");
    } else {
      out.append(text, begin, end - begin);
    }
    pos = end;
    if (begin == end) {  // an empty match: copy one character and go on after it
      if (pos >= text.size()) break;
      size_t next = pos + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xc0) == 0x80) ++next;
      out.append(text, pos, next - pos);
      pos = next;
    }
    if (occurrence != 0 && seen == occurrence) break;
  }
  if (pos < text.size()) out.append(text, pos, std::string::npos);
  return out;
}

size_t utf8_len(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

// The byte offset of character `chars` (0-based) of `s`, or its size when it has fewer.
size_t utf8_offset(std::string_view s, int64_t chars) {
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) continue;
    if (chars-- == 0) return i;
  }
  return s.size();
}

enum class CaseMapping { kUpper, kLower, kInitcap };

// Unicode case mapping, as Java's String methods do it: UPPER("straße") is "STRASSE". INITCAP
// capitalises the first letter after each space and lowers the others (sqlref/sql-reference-initcap).
std::string map_case(const std::string& text, CaseMapping mapping) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(text);
  if (mapping == CaseMapping::kUpper) {
    u.toUpper(icu::Locale::getRoot());
  } else if (mapping == CaseMapping::kLower) {
    u.toLower(icu::Locale::getRoot());
  } else {
    icu::UnicodeString out;
    bool word_start = true;
    for (int32_t i = 0; i < u.length();) {
      const UChar32 c = u.char32At(i);
      out.append(word_start ? u_totitle(c) : u_tolower(c));
      word_start = c == ' ';
      i += U16_LENGTH(c);
    }
    u = out;
  }
  std::string result;
  u.toUTF8String(result);
  return result;
}

}  // namespace

std::optional<Result<Bound>> FunctionCall::bind_string() {
  if (name == "UPPER" || name == "LOWER" || name == "INITCAP") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    const int len = args[0]->type.length;
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    const CaseMapping mapping = name == "UPPER"   ? CaseMapping::kUpper
                                : name == "LOWER" ? CaseMapping::kLower
                                                  : CaseMapping::kInitcap;
    return fn(name, std::move(args), SqlType::varchar(len),
              [mapping](const std::vector<Value>& a, const EvalContext&, Value& o) {
                o = Value::text(map_case(a[0].s, mapping));
                return Status{};
              });
  }
  if (name == "CHAR_LENGTH" || name == "CHARACTER_LENGTH" || name == "LENGTH") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    return fn(name, std::move(args), SqlType::of(TypeId::kInteger),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                o = Value::integer(static_cast<int64_t>(utf8_len(a[0].s)));
                return Status{};
              });
  }
  if (name == "SUBSTRING" && args.size() == 2 && args[1]->type.is_string()) {
    // SUBSTRING(s FROM 'regex'): the first match, NULL without one (sqlref/sql-reference-substring).
    const int len = args[0]->type.length;
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    if (auto st = need_string(1); !st) return tl::unexpected(st.error());
    return fn(name, std::move(args), SqlType::varchar(len),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                auto re = cached_regex(a[1].s);
                if (!re->ok()) return runtime_error("invalid regular expression: " + re->error());
                re2::StringPiece match;
                if (re->Match(a[0].s, 0, a[0].s.size(), RE2::UNANCHORED, &match, 1))
                  o = Value::text(std::string(match.data(), match.size()));
                else
                  o = Value::null();
                return Status{};
              });
  }
  if (name == "SUBSTRING") {
    if (auto st = arity(2, 3); !st) return tl::unexpected(st.error());
    const int len = args[0]->type.length;
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    for (size_t i = 1; i < args.size(); ++i) {
      if (auto st = need_integer(i); !st) return tl::unexpected(st.error());
    }
    return fn(name, std::move(args), SqlType::varchar(len),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                // SQL semantics on characters: start may be < 1; FOR counts from `start`.
                const std::string& text = a[0].s;
                const int64_t n = static_cast<int64_t>(utf8_len(text));
                int64_t from = a[1].i;
                if (a.size() > 2 && a[2].i < 0) return runtime_error("SUBSTRING length must not be negative");
                int64_t to = a.size() > 2 ? from + a[2].i : n + 1;
                from = std::max<int64_t>(from, 1);
                to = std::min<int64_t>(to, n + 1);
                if (to <= from) {
                  o = Value::text("");
                  return Status{};
                }
                const size_t begin = utf8_offset(text, from - 1);
                o = Value::text(text.substr(begin, utf8_offset(text, to - 1) - begin));
                return Status{};
              });
  }
  if (name == "POSITION") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    if (auto st = need_string(1); !st) return tl::unexpected(st.error());
    return fn(
        name, std::move(args), SqlType::of(TypeId::kInteger),
        [](const std::vector<Value>& a, const EvalContext&, Value& o) {
          const size_t p = a[1].s.find(a[0].s);
          o = Value::integer(p == std::string::npos ? 0 : static_cast<int64_t>(utf8_len(a[1].s.substr(0, p))) + 1);
          return Status{};
        });
  }
  if (name == "TRIM" || name == "LTRIM" || name == "RTRIM") {
    if (auto st = arity(1, 2); !st) return tl::unexpected(st.error());
    for (size_t i = 0; i < args.size(); ++i) {
      if (auto st = need_string(i); !st) return tl::unexpected(st.error());
    }
    const std::string side = name == "LTRIM" ? "LEADING" : name == "RTRIM" ? "TRAILING" : unit.empty() ? "BOTH" : unit;
    return fn(name, std::move(args), SqlType::varchar(),
              [side](const std::vector<Value>& a, const EvalContext&, Value& o) {
                const std::string chars = a.size() > 1 ? a[1].s : " ";
                std::string s = a[0].s;
                if (side != "TRAILING")
                  s.erase(0, s.find_first_not_of(chars) == std::string::npos ? s.size() : s.find_first_not_of(chars));
                if (side != "LEADING") {
                  const size_t last = s.find_last_not_of(chars);
                  s.erase(last == std::string::npos ? 0 : last + 1);
                }
                o = Value::text(std::move(s));
                return Status{};
              });
  }
  if (name == "OVERLAY") {
    if (auto st = arity(3, 4); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    if (auto st = need_string(1); !st) return tl::unexpected(st.error());
    for (size_t i = 2; i < args.size(); ++i) {
      if (auto st = need_integer(i); !st) return tl::unexpected(st.error());
    }
    // sqlref/sql-reference-overlay: the original's characters before `start`, the replacement,
    // then the original from start + length. A start below 1 keeps none of the original's head
    // and skips fewer of its characters, so part of the replacement stands before it.
    return fn(name, std::move(args), SqlType::varchar(), [](const std::vector<Value>& a, const EvalContext&, Value& o) {
      const std::string& text = a[0].s;
      const int64_t start = a[2].i;
      const int64_t len = a.size() > 3 ? a[3].i : static_cast<int64_t>(utf8_len(a[1].s));
      if (len < 0) return runtime_error("OVERLAY length must not be negative, got " + std::to_string(len));
      const size_t head = utf8_offset(text, std::max<int64_t>(start - 1, 0));
      const int64_t tail_from = start + len - 1;  // characters of the original skipped from its start
      o = Value::text(text.substr(0, head) + a[1].s +
                      (tail_from < 0 ? text : text.substr(utf8_offset(text, tail_from))));
      return Status{};
    });
  }
  if (name == "REGEX_REPLACE") {
    if (auto st = arity(3, 5); !st) return tl::unexpected(st.error());
    if (args.size() == 4) return bad("REGEX_REPLACE takes (original, regex, replacement, startPosition, occurrence)");
    for (size_t i = 0; i < 3; ++i) {
      if (auto st = need_string(i); !st) return tl::unexpected(st.error());
    }
    for (size_t i = 3; i < args.size(); ++i) {
      if (auto st = need_integer(i); !st) return tl::unexpected(st.error());
    }
    return fn(name, std::move(args), SqlType::varchar(), [](const std::vector<Value>& a, const EvalContext&, Value& o) {
      const int64_t start = a.size() > 3 ? a[3].i : 1;
      const int64_t occurrence = a.size() > 3 ? a[4].i : 0;
      if (start < 1)
        return runtime_error("REGEX_REPLACE startPosition must be 1 or more, got " + std::to_string(start));
      if (occurrence < 0)
        return runtime_error("REGEX_REPLACE occurrence must be 0 (all) or more, got " + std::to_string(occurrence));
      auto re = cached_regex(a[1].s);
      if (!re->ok()) return runtime_error("invalid regular expression: " + re->error());
      auto replaced = replace_matches(*re, a[0].s, re2_rewrite(a[2].s), utf8_offset(a[0].s, start - 1), occurrence);
      if (!replaced) return runtime_error("REGEX_REPLACE: " + replaced.error().message);
      o = Value::text(std::move(*replaced));
      return Status{};
    });
  }

  return std::nullopt;
}

}  // namespace eddy::sql
