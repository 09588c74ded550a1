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
