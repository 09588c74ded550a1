// Tokens of the KDA SQL dialect. Unquoted identifiers and keywords are upper-cased here, so the
// rest of the front end compares names exactly.
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

  bool is_keyword(std::string_view kw) const { return kind == TokenKind::kIdentifier && text == kw; }
  bool is_symbol(std::string_view s) const { return kind == TokenKind::kSymbol && text == s; }
};

// Errors are kInvalidArgument with "L:C: ..." (line:column) messages.
Result<std::vector<Token>> tokenize(std::string_view sql);

}  // namespace eddy::sql
