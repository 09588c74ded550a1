// Tokens of the KDA and Flink SQL dialects. Unquoted identifiers and keywords are upper-cased here,
// so the rest of the front end compares keywords and KDA names exactly; `raw` keeps the original
// spelling, which names are in Flink SQL (case-sensitive, quoted with backticks).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "sql/ast.h"

namespace eddy::sql {

enum class TokenKind { kIdentifier, kQuotedIdentifier, kString, kNumber, kSymbol, kEnd };

struct Token {
  TokenKind kind;
  std::string text;  // identifier (upper-cased unless quoted), string contents, number, symbol
  Location loc;
  std::string raw;  // an unquoted identifier as written

  bool is_keyword(std::string_view kw) const { return kind == TokenKind::kIdentifier && text == kw; }
  bool is_symbol(std::string_view s) const { return kind == TokenKind::kSymbol && text == s; }
};

// Errors are kInvalidArgument with "L:C: ..." (line:column) messages.
// `flink`: `backtick` quoted identifiers too.
Result<std::vector<Token>> tokenize(std::string_view sql, bool flink = false);

}  // namespace eddy::sql
