#include "sql/lexer.h"

#include <cctype>

namespace eddy::sql {

Result<std::vector<Token>> tokenize(std::string_view sql, bool flink) {
  std::vector<Token> out;
  size_t i = 0;
  int line = 1, col = 1;
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n && i < sql.size(); ++k, ++i) {
      if (sql[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  auto error = [&](Location at, const std::string& what) {
    return make_error(Errc::kInvalidArgument, std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + what);
  };
  while (i < sql.size()) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      advance(1);
      continue;
    }
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') advance(1);
      continue;
    }
    if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const Location at{line, col};
      advance(2);
      while (i + 1 < sql.size() && !(sql[i] == '*' && sql[i + 1] == '/')) advance(1);
      if (i + 1 >= sql.size()) return error(at, "unterminated /* comment");
      advance(2);
      continue;
    }
    const Location at{line, col};
    // U&'...' [UESCAPE 'c']: a string with Unicode escapes, \XXXX or \+XXXXXX (SQL:2008).
    if ((c == 'U' || c == 'u') && i + 2 < sql.size() && sql[i + 1] == '&' && sql[i + 2] == '\'') {
      advance(3);
      std::string raw;
      while (true) {
        if (i >= sql.size()) return error(at, "unterminated string literal");
        if (sql[i] == '\'') {
          if (i + 1 < sql.size() && sql[i + 1] == '\'') {
            raw.push_back('\'');
            advance(2);
            continue;
          }
          advance(1);
          break;
        }
        raw.push_back(sql[i]);
        advance(1);
      }
      char escape = '\\';
      size_t j = i;
      while (j < sql.size() && std::isspace(static_cast<unsigned char>(sql[j]))) ++j;
      if (sql.size() - j >= 7) {
        std::string word(sql.substr(j, 7));
        for (auto& w : word) w = static_cast<char>(std::toupper(static_cast<unsigned char>(w)));
        size_t k = j + 7;
        while (k < sql.size() && std::isspace(static_cast<unsigned char>(sql[k]))) ++k;
        if (word == "UESCAPE" && k + 2 < sql.size() && sql[k] == '\'' && sql[k + 2] == '\'') {
          escape = sql[k + 1];
          if (std::isxdigit(static_cast<unsigned char>(escape)) || escape == '+' || escape == '\'' || escape == '"' ||
              std::isspace(static_cast<unsigned char>(escape)))
            return error(at, "UESCAPE cannot be a hex digit, +, a quote or a space");
          advance(k + 3 - i);
        }
      }
      std::string text;
      for (size_t k = 0; k < raw.size(); ++k) {
        if (raw[k] != escape) {
          text.push_back(raw[k]);
          continue;
        }
        if (k + 1 < raw.size() && raw[k + 1] == escape) {
          text.push_back(escape);
          ++k;
          continue;
        }
        const bool six = k + 1 < raw.size() && raw[k + 1] == '+';
        const size_t digits = six ? 6 : 4, from = k + (six ? 2 : 1);
        if (from + digits > raw.size()) return error(at, "a Unicode escape needs 4 hex digits (or + and 6)");
        uint32_t cp = 0;
        for (size_t d = from; d < from + digits; ++d) {
          const char h = raw[d];
          if (!std::isxdigit(static_cast<unsigned char>(h))) return error(at, "a Unicode escape needs hex digits");
          cp = cp * 16 + static_cast<uint32_t>(
                             std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::toupper(h) - 'A' + 10));
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
          return error(at, "a Unicode escape names no character");
        if (cp < 0x80) {
          text.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          text.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
          text.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          text.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          text.push_back(static_cast<char>(0xF0 | (cp >> 18)));
          text.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
          text.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        k = from + digits - 1;
      }
      out.push_back({TokenKind::kString, std::move(text), at});
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$') {
      std::string word, raw;
      while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$')) {
        raw.push_back(sql[i]);
        word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
        advance(1);
      }
      out.push_back({TokenKind::kIdentifier, std::move(word), at, std::move(raw)});
      continue;
    }
    // "quoted" identifiers, and `quoted` ones in Flink SQL; a doubled quote stands for itself.
    if (c == '"' || (c == '`' && flink)) {
      const char q = c;
      std::string name;
      advance(1);
      while (true) {
        if (i >= sql.size()) return error(at, "unterminated quoted identifier");
        if (sql[i] == q) {
          if (i + 1 < sql.size() && sql[i + 1] == q) {
            name.push_back(q);
            advance(2);
            continue;
          }
          advance(1);
          break;
        }
        name.push_back(sql[i]);
        advance(1);
      }
      if (name.empty()) return error(at, "empty quoted identifier");
      out.push_back({TokenKind::kQuotedIdentifier, std::move(name), at});
      continue;
    }
    if (c == '\'') {
      std::string text;
      advance(1);
      while (true) {
        if (i >= sql.size()) return error(at, "unterminated string literal");
        if (sql[i] == '\'') {
          if (i + 1 < sql.size() && sql[i + 1] == '\'') {
            text.push_back('\'');
            advance(2);
            continue;
          }
          advance(1);
          break;
        }
        text.push_back(sql[i]);
        advance(1);
      }
      out.push_back({TokenKind::kString, std::move(text), at});
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1])))) {
      std::string num;
      bool dot = false, exp = false;
      while (i < sql.size()) {
        const char d = sql[i];
        if (std::isdigit(static_cast<unsigned char>(d))) {
          num.push_back(d);
        } else if (d == '.' && !dot && !exp) {
          dot = true;
          num.push_back(d);
        } else if ((d == 'e' || d == 'E') && !exp && i + 1 < sql.size() &&
                   (std::isdigit(static_cast<unsigned char>(sql[i + 1])) || sql[i + 1] == '-' || sql[i + 1] == '+')) {
          exp = true;
          num.push_back('E');
          advance(1);
          num.push_back(sql[i]);
        } else {
          break;
        }
        advance(1);
      }
      out.push_back({TokenKind::kNumber, std::move(num), at});
      continue;
    }
    static constexpr std::string_view kTwo[] = {"<>", "<=", ">=", "!=", "||"};
    bool matched = false;
    for (auto sym : kTwo) {
      if (sql.substr(i, 2) == sym) {
        out.push_back({TokenKind::kSymbol, std::string(sym == "!=" ? "<>" : sym), at});
        advance(2);
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (std::string_view("+-*/%=<>(),.;").find(c) != std::string_view::npos) {
      out.push_back({TokenKind::kSymbol, std::string(1, c), at});
      advance(1);
      continue;
    }
    return error(at, std::string("unexpected character '") + c + "'");
  }
  out.push_back({TokenKind::kEnd, "", {line, col}});
  return out;
}

}  // namespace eddy::sql
