// FAST_REGEX_LOG_PARSER (log_parse.h): the page's pattern syntax, matched group by group.
#include "sql/log_parse.h"

#include "sql/log_parse_internal.h"

namespace eddy::sql {

using namespace log_parse_detail;  // NOLINT: the shared helpers of the log-parsing files

namespace {

// ---------------------------------------------------------------------------------------------
// FAST_REGEX_LOG_PARSER: the page's (dk.brics.automaton) syntax

struct RxNode {
  enum Kind { kChar, kClass, kAny, kNothing, kAnyString, kString, kEmpty, kGroup, kConcat, kUnion, kRepeat, kInterval };
  Kind kind = kEmpty;
  std::u32string text;                                // kChar (one), kString
  std::vector<std::pair<char32_t, char32_t>> ranges;  // kClass
  bool negated = false;                               // kClass
  std::vector<RxNode> kids;                           // kGroup (1), kConcat, kUnion, kRepeat (1)
  int min = 0, max = 0;                               // kRepeat; max < 0: no bound
  std::string re2;                                    // kInterval
  size_t digits = 0;                                  // kInterval: fixed width, or 0
};

RxNode leaf(RxNode::Kind k) {
  RxNode n;
  n.kind = k;
  return n;
}

RxNode wrap(RxNode::Kind k, RxNode kid) {
  RxNode n;
  n.kind = k;
  n.kids.push_back(std::move(kid));
  return n;
}

// The regular expression of the decimal strings of exactly a.size() digits from a to b (a <= b).
std::string digit_range(const std::string& a, const std::string& b) {
  if (a.empty() || a == b) return a;
  if (a[0] == b[0]) return a.substr(0, 1) + digit_range(a.substr(1), b.substr(1));
  const size_t rest = a.size() - 1;
  const std::string zeros(rest, '0'), nines(rest, '9');
  auto block = [&](char lo, char hi) {
    std::string s = lo == hi ? std::string(1, lo) : std::string("[") + lo + "-" + hi + "]";
    if (rest) s += "[0-9]{" + std::to_string(rest) + "}";
    return s;
  };
  const bool low_whole = a.substr(1) == zeros, high_whole = b.substr(1) == nines;
  if (low_whole && high_whole) return block(a[0], b[0]);
  std::vector<std::string> alts;
  char from = a[0], to = b[0];
  if (!low_whole) {
    alts.push_back(a.substr(0, 1) + "(?:" + digit_range(a.substr(1), nines) + ")");
    ++from;
  }
  if (!high_whole) --to;
  if (from <= to) alts.push_back(block(from, to));
  if (!high_whole) alts.push_back(b.substr(0, 1) + "(?:" + digit_range(zeros, b.substr(1)) + ")");
  std::string out = "(?:";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? "|" : "") + alts[i];
  return out + ")";
}

// brics' <n-m>: the decimal numbers from n to m; when n and m are written with as many digits,
// exactly that many (zero-padded), otherwise any number of leading zeros.
std::string interval_re2(uint64_t lo, uint64_t hi, size_t digits) {
  if (digits > 0) {
    auto pad = [&](uint64_t v) {
      std::string s = std::to_string(v);
      return std::string(digits - std::min(digits, s.size()), '0') + s;
    };
    return digit_range(pad(lo), pad(hi));
  }
  std::vector<std::string> alts;
  const std::string slo = std::to_string(lo), shi = std::to_string(hi);
  for (size_t len = slo.size(); len <= shi.size(); ++len) {
    const std::string first = len == slo.size() ? slo : "1" + std::string(len - 1, '0');
    const std::string last = len == shi.size() ? shi : std::string(len, '9');
    alts.push_back(digit_range(first, last));
  }
  std::string out = "0*(?:";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? "|" : "") + alts[i];
  return out + ")";
}

const std::map<std::string, std::vector<std::pair<char32_t, char32_t>>>& named_classes() {
  static const std::map<std::string, std::vector<std::pair<char32_t, char32_t>>> kNamed = {
      {"Digit", {{'0', '9'}}},
      {"Upper", {{'A', 'Z'}}},
      {"Lower", {{'a', 'z'}}},
      {"ASCII", {{0, 0x7F}}},
      {"Alpha", {{'a', 'z'}, {'A', 'Z'}}},
      {"Alnum", {{'a', 'z'}, {'A', 'Z'}, {'0', '9'}}},
      {"Punct", {{0x21, 0x2F}, {0x3A, 0x40}, {0x5B, 0x60}, {0x7B, 0x7E}}},
      {"Blank", {{' ', ' '}, {'\t', '\t'}}},
      {"Space", {{' ', ' '}, {'\t', '\n'}, {0x0B, 0x0D}}},
      {"Cntrl", {{0, 0x1F}, {0x7F, 0x7F}}},
      {"XDigit", {{'0', '9'}, {'a', 'f'}, {'A', 'F'}}},
      {"Print", {{0x21, 0x7E}}},
      {"Graph", {{0x21, 0x7E}}},
  };
  return kNamed;
}

class BricsParser {
 public:
  explicit BricsParser(std::string_view pattern) {
    for (size_t i = 0; i < pattern.size();) p_.push_back(next_code_point(pattern, i));
  }

  Result<RxNode> parse() {
    auto r = parse_union(0);
    if (!r) return r;
    if (pos_ < p_.size()) return error("unbalanced ')'");
    return r;
  }

 private:
  bool more() const { return pos_ < p_.size(); }
  char32_t peek() const { return more() ? p_[pos_] : 0; }
  tl::unexpected<Error> error(const std::string& what) const {
    return bad("FAST_REGEX_LOG_PARSER: " + what + " at position " + std::to_string(pos_) + " of the pattern");
  }

  Result<RxNode> parse_union(int depth) {
    if (depth > kMaxNesting) return error("parentheses nested too deeply");
    RxNode u = leaf(RxNode::kUnion);
    for (;;) {
      auto c = parse_concat(depth);
      if (!c) return c;
      u.kids.push_back(std::move(*c));
      if (peek() == '&' && more()) {
        return error("intersection '&' is not supported (write \\& for the character)");
      }
      if (!more() || peek() != '|') break;
      ++pos_;
    }
    if (u.kids.size() == 1) return std::move(u.kids[0]);
    return u;
  }

  Result<RxNode> parse_concat(int depth) {
    RxNode c = leaf(RxNode::kConcat);
    while (more() && peek() != ')' && peek() != '|' && peek() != '&') {
      auto r = parse_repeat(depth);
      if (!r) return r;
      c.kids.push_back(std::move(*r));
    }
    if (c.kids.empty()) return leaf(RxNode::kEmpty);
    if (c.kids.size() == 1) return std::move(c.kids[0]);
    return c;
  }

  Result<int> count() {
    const size_t start = pos_;
    uint64_t v = 0;
    while (more() && peek() >= '0' && peek() <= '9') {
      v = v * 10 + (peek() - '0');
      if (v > static_cast<uint64_t>(kMaxRepeat)) return error("repetition count above " + std::to_string(kMaxRepeat));
      ++pos_;
    }
    if (pos_ == start) return error("a number expected in {}");
    return static_cast<int>(v);
  }

  Result<RxNode> parse_repeat(int depth) {
    auto atom = parse_atom(depth);
    if (!atom) return atom;
    RxNode r = std::move(*atom);
    while (more()) {
      const char32_t c = peek();
      int lo = 0, hi = -1;
      if (c == '?') {
        hi = 1;
      } else if (c == '*') {
      } else if (c == '+') {
        lo = 1;
      } else if (c == '{') {
        ++pos_;
        auto n = count();
        if (!n) return tl::unexpected(n.error());
        lo = hi = *n;
        if (peek() == ',') {
          ++pos_;
          hi = -1;
          if (peek() != '}') {
            auto m = count();
            if (!m) return tl::unexpected(m.error());
            hi = *m;
            if (hi < lo) return error("{n,m} with m < n");
          }
        }
        if (peek() != '}') return error("missing '}'");
      } else {
        break;
      }
      ++pos_;
      RxNode rep = wrap(RxNode::kRepeat, std::move(r));
      rep.min = lo;
      rep.max = hi;
      r = std::move(rep);
    }
    return r;
  }

  Result<char32_t> char_exp() {
    if (!more()) return error("the pattern ends inside a character class");
    if (peek() == '\\') {
      ++pos_;
      if (!more()) return error("the pattern ends with a lone backslash");
    }
    return p_[pos_++];
  }

  Result<RxNode> parse_class() {
    ++pos_;  // [
    RxNode n = leaf(RxNode::kClass);
    if (peek() == '^' && more()) {
      n.negated = true;
      ++pos_;
    }
    while (more() && peek() != ']') {
      auto lo = char_exp();
      if (!lo) return tl::unexpected(lo.error());
      char32_t hi = *lo;
      if (peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        auto h = char_exp();
        if (!h) return tl::unexpected(h.error());
        hi = *h;
        if (hi < *lo) return error("a character range goes backwards");
      }
      n.ranges.emplace_back(*lo, hi);
    }
    if (!more()) return error("missing ']'");
    ++pos_;
    if (n.ranges.empty()) return error("empty character class");
    return n;
  }

  Result<RxNode> parse_atom(int depth) {
    const char32_t c = peek();
    switch (c) {
      case '[':
        return parse_class();
      case '.':
        ++pos_;
        return leaf(RxNode::kAny);
      case '#':
        ++pos_;
        return leaf(RxNode::kNothing);
      case '@':
        ++pos_;
        return leaf(RxNode::kAnyString);
      case '"': {
        ++pos_;
        RxNode s = leaf(RxNode::kString);
        while (more() && peek() != '"') s.text += p_[pos_++];
        if (!more()) return error("unterminated \"string\"");
        ++pos_;
        return s;
      }
      case '(': {
        ++pos_;
        if (more() && peek() == ')') {
          ++pos_;
          return wrap(RxNode::kGroup, leaf(RxNode::kEmpty));
        }
        auto u = parse_union(depth + 1);
        if (!u) return u;
        if (!more() || peek() != ')') return error("missing ')'");
        ++pos_;
        return wrap(RxNode::kGroup, std::move(*u));
      }
      case '<': {
        const size_t start = ++pos_;
        while (more() && peek() != '>') ++pos_;
        if (!more()) return error("missing '>' after '<'");
        std::string name;
        for (size_t i = start; i < pos_; ++i) {
          if (p_[i] > 0x7F) return error("bad named pattern");
          name += static_cast<char>(p_[i]);
        }
        ++pos_;
        const size_t dash = name.find('-');
        const auto digits = [](std::string_view s) {
          return !s.empty() && s.size() <= 18 &&
                 std::all_of(s.begin(), s.end(), [](char d) { return std::isdigit(static_cast<unsigned char>(d)); });
        };
        if (dash != std::string::npos && digits(std::string_view(name).substr(0, dash)) &&
            digits(std::string_view(name).substr(dash + 1))) {
          const std::string smin = name.substr(0, dash), smax = name.substr(dash + 1);
          uint64_t lo = std::stoull(smin), hi = std::stoull(smax);
          RxNode n = leaf(RxNode::kInterval);
          n.digits = smin.size() == smax.size() ? smin.size() : 0;
          if (lo > hi) std::swap(lo, hi);
          n.re2 = interval_re2(lo, hi, n.digits);
          return n;
        }
        const auto it = named_classes().find(name);
        if (it == named_classes().end()) {
          return error("unknown named pattern <" + name +
                       "> (the named patterns are Digit, Upper, Lower, ASCII, Alpha, Alnum, Punct, Blank, Space, "
                       "Cntrl, XDigit, Print, Graph; <n-m> is a numeric interval)");
        }
        RxNode n = leaf(RxNode::kClass);
        n.ranges = it->second;
        return n;
      }
      case '\\': {
        ++pos_;
        if (!more()) return error("the pattern ends with a lone backslash");
        RxNode n = leaf(RxNode::kChar);
        n.text = p_[pos_++];
        return n;
      }
      case '~':
        return error("complement '~' is not supported (write \\~ for the character)");
      case '?':
      case '*':
      case '+':
      case '{':
        return error("nothing to repeat before '" + std::string(1, static_cast<char>(c)) + "'");
      default: {
        RxNode n = leaf(RxNode::kChar);
        n.text = p_[pos_++];
        return n;
      }
    }
  }

  std::u32string p_;
  size_t pos_ = 0;
};

std::optional<size_t> fixed_length(const RxNode& n) {
  switch (n.kind) {
    case RxNode::kChar:
    case RxNode::kClass:
    case RxNode::kAny:
      return 1;
    case RxNode::kString:
      return n.text.size();
    case RxNode::kEmpty:
      return 0;
    case RxNode::kNothing:
    case RxNode::kAnyString:
      return std::nullopt;
    case RxNode::kGroup:
      return fixed_length(n.kids[0]);
    case RxNode::kConcat: {
      size_t sum = 0;
      for (const auto& k : n.kids) {
        const auto l = fixed_length(k);
        if (!l) return std::nullopt;
        sum += *l;
      }
      return sum;
    }
    case RxNode::kUnion: {
      std::optional<size_t> len;
      for (const auto& k : n.kids) {
        const auto l = fixed_length(k);
        if (!l || (len && *len != *l)) return std::nullopt;
        len = l;
      }
      return len;
    }
    case RxNode::kRepeat: {
      if (n.min != n.max) return std::nullopt;
      const auto l = fixed_length(n.kids[0]);
      if (!l) return std::nullopt;
      return *l * static_cast<size_t>(n.min);
    }
    case RxNode::kInterval:
      if (n.digits == 0) return std::nullopt;
      return n.digits;
  }
  return std::nullopt;
}

void emit_literal(char32_t c, std::string& out) {
  if (c < 0x80 && (std::isalnum(static_cast<int>(c)) || c == '_' || c == ' ')) {
    out += static_cast<char>(c);
  } else {
    out += hex_escape(c);
  }
}

void emit(const RxNode& n, std::string& out) {
  switch (n.kind) {
    case RxNode::kChar:
    case RxNode::kString:
      for (char32_t c : n.text) emit_literal(c, out);
      return;
    case RxNode::kClass:
      out += n.negated ? "[^" : "[";
      for (const auto& [lo, hi] : n.ranges) {
        out += hex_escape(lo);
        if (hi != lo) out += "-" + hex_escape(hi);
      }
      out += "]";
      return;
    case RxNode::kAny:
      out += "(?s:.)";
      return;
    case RxNode::kNothing:
      out += "[^\\x{0}-\\x{10FFFF}]";
      return;
    case RxNode::kAnyString:
      out += "(?s:.*)";
      return;
    case RxNode::kEmpty:
      out += "(?:)";
      return;
    case RxNode::kGroup:
      out += "(?:";
      emit(n.kids[0], out);
      out += ")";
      return;
    case RxNode::kConcat:
      for (const auto& k : n.kids) emit(k, out);
      return;
    case RxNode::kUnion:
      out += "(?:";
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i) out += "|";
        emit(n.kids[i], out);
      }
      out += ")";
      return;
    case RxNode::kRepeat:
      out += "(?:";
      emit(n.kids[0], out);
      out += ")";
      if (n.min == 0 && n.max < 0) {
        out += "*";
      } else if (n.min == 1 && n.max < 0) {
        out += "+";
      } else if (n.min == 0 && n.max == 1) {
        out += "?";
      } else if (n.max < 0) {
        out += "{" + std::to_string(n.min) + ",}";
      } else if (n.min == n.max) {
        out += "{" + std::to_string(n.min) + "}";
      } else {
        out += "{" + std::to_string(n.min) + "," + std::to_string(n.max) + "}";
      }
      return;
    case RxNode::kInterval:
      out += "(?:" + n.re2 + ")";
      return;
  }
}

std::string emit_all(const std::vector<RxNode>& items) {
  std::string out;
  for (const auto& n : items) emit(n, out);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FAST_REGEX_LOG_PARSER

struct FastRegexLogParse::Program {
  enum class Mode { kLazy, kGreedy, kRest };
  // A piece is an optional variable-length body followed by fixed-length parts; once the piece's
  // end is known, the parts are found by counting characters back from it, so no submatch search
  // (RE2's costly part) ever runs.
  struct Piece {
    std::unique_ptr<RE2> re;
    Mode mode = Mode::kLazy;
    bool has_body = false;
    std::vector<int> part_columns;   // the column of each part, or -1
    std::vector<size_t> part_chars;  // each part's length in characters (the body's is unused)
  };
  std::vector<Piece> pieces;
  size_t columns = 0;
};

Result<FastRegexLogParse> FastRegexLogParse::make(std::string_view pattern) {
  const std::string fn = "FAST_REGEX_LOG_PARSER: ";
  if (pattern.size() > kMaxPatternBytes) return bad(fn + "the pattern is longer than 64 KB");
  auto root = BricsParser(pattern).parse();
  if (!root) return tl::unexpected(root.error());
  if (root->kind == RxNode::kUnion) {
    return bad(fn +
               "a '|' outside parentheses is not supported: the pattern is cut into pieces at its top-level "
               "groups; put the alternatives in a group");
  }
  std::vector<RxNode> items;
  if (root->kind == RxNode::kConcat) {
    items = std::move(root->kids);
  } else {
    items.push_back(std::move(*root));
  }

  // The expressions: each top-level group, and each stretch between groups.
  struct Expression {
    std::vector<RxNode> items;
    int column = -1;
  };
  std::vector<Expression> expressions;
  int columns = 0;
  for (auto& item : items) {
    if (item.kind == RxNode::kRepeat && item.kids[0].kind == RxNode::kGroup) {
      return bad(fn + "a quantified group cannot be a column; put the quantifier inside the group, as in (x*)");
    }
    if (item.kind == RxNode::kGroup) {
      if (static_cast<size_t>(columns) == kLogParseMaxColumns) {
        return bad(fn + "the pattern has more than " + std::to_string(kLogParseMaxColumns) + " groups");
      }
      Expression e;
      e.column = columns++;
      RxNode& body = item.kids[0];
      if (body.kind == RxNode::kConcat) {
        e.items = std::move(body.kids);
      } else {
        e.items.push_back(std::move(body));
      }
      expressions.push_back(std::move(e));
    } else {
      if (expressions.empty() || expressions.back().column >= 0) expressions.emplace_back();
      expressions.back().items.push_back(std::move(item));
    }
  }
  if (columns == 0) return bad(fn + "the pattern has no group, so it would give no columns");

  // Cut each expression into its fixed-length start and the rest: the start goes to the end of the
  // previous piece, the rest (if any) begins a new piece. X+ and X{n,m} with X fixed-length start
  // with X{n}: the page's "_+ is considered the same as __*".
  struct Part {
    std::string re2;
    int column;
    size_t chars;  // fixed length in characters; 0 for a body
  };
  struct PieceDef {
    std::vector<Part> parts;
    bool has_body = false;
    bool body_in_group = false;
  };
  std::vector<PieceDef> defs;
  for (auto& e : expressions) {
    std::vector<RxNode> fixed, rest;
    for (auto& item : e.items) {
      if (!rest.empty()) {
        rest.push_back(std::move(item));
      } else if (fixed_length(item)) {
        fixed.push_back(std::move(item));
      } else if (item.kind == RxNode::kRepeat && item.min > 0 && fixed_length(item.kids[0])) {
        RxNode head = wrap(RxNode::kRepeat, item.kids[0]);
        head.min = head.max = item.min;
        RxNode tail = wrap(RxNode::kRepeat, std::move(item.kids[0]));
        tail.min = 0;
        tail.max = item.max < 0 ? -1 : item.max - item.min;
        fixed.push_back(std::move(head));
        rest.push_back(std::move(tail));
      } else {
        rest.push_back(std::move(item));
      }
    }
    if (!fixed.empty()) {
      size_t chars = 0;
      for (const auto& f : fixed) chars += *fixed_length(f);
      if (defs.empty()) defs.emplace_back();
      defs.back().parts.push_back({emit_all(fixed), e.column, chars});
    }
    if (!rest.empty()) {
      PieceDef d;
      d.parts.push_back({emit_all(rest), e.column, 0});
      d.has_body = true;
      d.body_in_group = e.column >= 0;
      defs.push_back(std::move(d));
    }
  }

  auto program = std::make_shared<Program>();
  program->columns = static_cast<size_t>(columns);
  const int64_t mem = std::max(kPieceMinMem, kPatternMaxMem / static_cast<int64_t>(defs.size()));
  for (size_t i = 0; i < defs.size(); ++i) {
    Program::Piece piece;
    if (i + 1 == defs.size()) {
      piece.mode = Program::Mode::kRest;
    } else if (defs[i].has_body && !defs[i].body_in_group) {
      piece.mode = Program::Mode::kGreedy;
    }
    piece.has_body = defs[i].has_body;
    std::string text;
    for (const auto& part : defs[i].parts) {
      text += part.re2;
      piece.part_columns.push_back(part.column);
      piece.part_chars.push_back(part.chars);
    }
    piece.re = std::make_unique<RE2>(text, re2_options(mem, piece.mode == Program::Mode::kGreedy));
    if (!piece.re->ok()) return bad(fn + "the pattern does not compile: " + piece.re->error());
    program->pieces.push_back(std::move(piece));
  }
  FastRegexLogParse out;
  out.program_ = std::move(program);
  out.columns_ = numbered_columns(static_cast<size_t>(columns), "VARCHAR(1024)");
  return out;
}

LogParseResult FastRegexLogParse::parse(std::string_view text) const {
  text = non_null(text);
  if (text.size() > kLogParseMaxLineBytes) return std::nullopt;
  constexpr size_t kUnset = static_cast<size_t>(-1);
  std::vector<std::pair<size_t, size_t>> spans(program_->columns, {kUnset, kUnset});
  const StringPiece whole(text);
  std::vector<size_t> bounds;
  size_t pos = 0;
  for (const auto& piece : program_->pieces) {
    size_t end = 0;
    switch (piece.mode) {
      case Program::Mode::kRest:
        if (!piece.re->Match(whole, pos, text.size(), RE2::ANCHOR_BOTH, nullptr, 0)) return std::nullopt;
        end = text.size();
        break;
      case Program::Mode::kGreedy: {
        StringPiece match;  // leftmost-longest: the DFA alone finds it
        if (!piece.re->Match(whole, pos, text.size(), RE2::ANCHOR_START, &match, 1)) return std::nullopt;
        end = static_cast<size_t>(match.data() - text.data()) + match.size();
        break;
      }
      case Program::Mode::kLazy: {
        const auto e = shortest_end(*piece.re, text, pos);
        if (!e) return std::nullopt;
        end = *e;
        break;
      }
    }
    // Part boundaries, from the end back: every part but the body has a fixed length.
    const size_t parts = piece.part_columns.size();
    bounds.assign(parts + 1, pos);
    bounds[parts] = end;
    size_t at = end;
    for (size_t k = parts; k-- > (piece.has_body ? 1 : 0);) {
      for (size_t c = 0; c < piece.part_chars[k] && at > pos; ++c) {
        do --at;
        while (at > pos && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80);
      }
      bounds[k] = at;
    }
    for (size_t k = 0; k < parts; ++k) {
      const int col = piece.part_columns[k];
      if (col < 0) continue;
      auto& span = spans[static_cast<size_t>(col)];
      if (span.first == kUnset) span.first = bounds[k];
      span.second = bounds[k + 1];
    }
    pos = end;
  }
  LogFields fields(program_->columns);
  for (size_t c = 0; c < spans.size(); ++c) {
    fields[c] = std::string(first_chars(text.substr(spans[c].first, spans[c].second - spans[c].first), 1024));
  }
  return fields;
}

}  // namespace eddy::sql
