#include "common/json_text.h"

namespace eddy {

namespace {
struct EscapeTable {
  bool needs[256];
  constexpr EscapeTable() : needs{} {
    for (int i = 0; i < 0x20; ++i) needs[i] = true;
    needs[static_cast<unsigned char>('"')] = true;
    needs[static_cast<unsigned char>('\\')] = true;
  }
};
constexpr EscapeTable kEscape;
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (!kEscape.needs[u]) continue;
    out.append(s.data() + start, i - start);  // copy clean runs in one go
    start = i + 1;
    if (u == '"') {
      out += "\\\"";
    } else if (u == '\\') {
      out += "\\\\";
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
      out.append(esc, sizeof(esc));
    }
  }
  out.append(s.data() + start, s.size() - start);
  out.push_back('"');
}

}  // namespace eddy
