// LIKE ... ESCAPE and SIMILAR TO (sqlref/sql-reference-string-operators), translated into anchored
// RE2 expressions: linear in the text whatever the pattern, and one character per `_` or `.` in
// UTF-8. A plain LIKE without ESCAPE stays runtime::make_like, which needs no regex.
#include <algorithm>
#include <memory>
#include <utility>

#include <re2/re2.h>
#include <unicode/utf8.h>

#include "sql/function_call.h"
#include "sql/functions.h"

namespace eddy::sql {

using runtime::EvalContext;
using runtime::Value;

namespace {

std::vector<UChar32> code_points(const std::string& s) {
  std::vector<UChar32> out;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    out.push_back(c < 0 ? 0xFFFD : c);
  }
  return out;
}

std::string literal(UChar32 c) {
  std::string utf8;
  char buf[4];
  int32_t len = 0;
  UBool error = false;
  U8_APPEND(reinterpret_cast<uint8_t*>(buf), len, 4, c, error);
  if (error) return "\\x{FFFD}";
  utf8.assign(buf, static_cast<size_t>(len));
  return RE2::QuoteMeta(utf8);
}

using Ranges = std::vector<std::pair<UChar32, UChar32>>;

Ranges subtract(const Ranges& keep, const Ranges& drop) {
  Ranges out = keep;
  for (const auto& [lo, hi] : drop) {
    Ranges next;
    for (const auto& [a, b] : out) {
      if (hi < a || lo > b) {
        next.emplace_back(a, b);
        continue;
      }
      if (a < lo) next.emplace_back(a, lo - 1);
      if (b > hi) next.emplace_back(hi + 1, b);
    }
    out = std::move(next);
  }
  return out;
}

std::string class_of(const Ranges& ranges, bool negated) {
  if (ranges.empty()) return negated ? "(?s:.)" : "[^\\x{0}-\\x{10FFFF}]";  // everything / nothing
  std::string out = negated ? "[^" : "[";
  for (const auto& [a, b] : ranges) {
    out += literal(a);
    if (b != a) out += "-" + literal(b);
  }
  return out + "]";
}

class Translator {
 public:
  Translator(const std::vector<UChar32>& p, bool similar, std::optional<UChar32> escape)
      : p_(p), similar_(similar), escape_(escape) {}

  Result<std::string> run() {
    std::string re = "(?s)";
    for (i_ = 0; i_ < p_.size(); ++i_) {
      const UChar32 c = p_[i_];
      if (escape_ && c == *escape_) {
        if (i_ + 1 == p_.size()) return fail("the pattern ends with its escape character");
        re += literal(p_[++i_]);
      } else if (c == '_') {
        re += ".";
      } else if (c == '%') {
        re += ".*";
      } else if (similar_ && c == '[') {
        auto cls = bracket();
        if (!cls) return tl::unexpected(cls.error());
        re += *cls;
      } else if (similar_ && (c == '(' || c == ')' || c == '|' || c == '*' || c == '+' || c == '?' || c == '{' ||
                              c == '}' || c == ',' || (c >= '0' && c <= '9'))) {
        re += static_cast<char>(c);  // regular-expression syntax, checked by RE2
      } else {
        re += literal(c);
      }
    }
    return re;
  }

 private:
  tl::unexpected<Error> fail(const std::string& why) const {
    return make_error(Errc::kInvalidArgument, std::string(similar_ ? "SIMILAR TO" : "LIKE") + " pattern: " + why);
  }

  // [seq], [^seq], and SQLstream's [seq^seq]: characters of the first not in the second.
  Result<std::string> bracket() {
    Ranges in, out;
    Ranges* into = &in;
    bool negated = false;
    size_t j = i_ + 1;
    if (j < p_.size() && p_[j] == '^') {
      negated = true;
      ++j;
    }
    for (; j < p_.size() && p_[j] != ']'; ++j) {
      UChar32 c = p_[j];
      if (c == '^' && into == &in) {
        into = &out;
        continue;
      }
      if (c == '(' || c == ')' || c == '[') return fail("'[' ... ']' holds characters and ranges only");
      if (escape_ && c == *escape_ && j + 1 < p_.size()) c = p_[++j];
      if (j + 2 < p_.size() && p_[j + 1] == '-' && p_[j + 2] != ']') {
        const UChar32 hi = p_[j + 2];
        if (hi < c) return fail("a range runs backwards");
        into->emplace_back(c, hi);
        j += 2;
      } else {
        into->emplace_back(c, c);
      }
    }
    if (j >= p_.size()) return fail("'[' has no closing ']'");
    i_ = j;
    return class_of(subtract(in, out), negated);
  }

  const std::vector<UChar32>& p_;
  bool similar_;
  std::optional<UChar32> escape_;
  size_t i_ = 0;
};

// The compiled form of the last pattern seen on this thread: patterns are nearly always literals.
struct CompiledPattern {
  std::string pattern, escape;
  bool similar = false;
  std::shared_ptr<const RE2> re;
  std::string error;
};

const CompiledPattern& compile(const std::string& pattern, const std::string* escape, bool similar) {
  thread_local CompiledPattern last;
  const std::string esc = escape ? *escape : std::string("\x01none", 5);
  if (last.re && last.pattern == pattern && last.escape == esc && last.similar == similar) return last;
  last = CompiledPattern{pattern, esc, similar, nullptr, ""};
  std::optional<UChar32> escape_char;
  if (escape) {
    const auto e = code_points(*escape);
    if (e.size() != 1) {
      last.error = "ESCAPE takes one character, got '" + *escape + "'";
      last.re = std::make_shared<const RE2>("");
      return last;
    }
    escape_char = e[0];
  }
  auto translated = Translator(code_points(pattern), similar, escape_char).run();
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);
  last.re = std::make_shared<const RE2>(translated ? *translated : std::string(), options);
  if (!translated)
    last.error = translated.error().message;
  else if (!last.re->ok())
    last.error =
        std::string(similar ? "SIMILAR TO" : "LIKE") + " pattern '" + pattern + "' is invalid: " + last.re->error();
  return last;
}

}  // namespace

Result<Bound> bind_pattern_match(bool similar, bool negated, std::vector<Bound> args) {
  const std::string name = similar ? "SIMILAR TO" : "LIKE";
  FunctionCall call{name, std::move(args), name};
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (auto st = call.need_string(i); !st) return tl::unexpected(st.error());
  }
  return fn(name, std::move(call.args), SqlType::of(TypeId::kBoolean),
            [similar, negated](const std::vector<Value>& a, const EvalContext&, Value& o) {
              const auto& c = compile(a[1].s, a.size() > 2 ? &a[2].s : nullptr, similar);
              if (!c.error.empty()) return runtime_error(c.error);
              o = Value::boolean(RE2::FullMatch(a[0].s, *c.re) != negated);
              return Status{};
            });
}

}  // namespace eddy::sql
