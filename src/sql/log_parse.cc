// The log-parsing functions' cores (log_parse.h). What each page leaves open, and what eddy does
// there, is said at each class in the header.
#include "sql/log_parse.h"

#include "sql/log_parse_internal.h"

namespace eddy::sql {

using namespace log_parse_detail;  // NOLINT: the shared helpers of the log-parsing files

// ---------------------------------------------------------------------------------------------
// FIXED_COLUMN_LOG_PARSE

Result<FixedColumnLogParse> FixedColumnLogParse::make(std::string_view description) {
  auto specs = parse_column_list(description, ListKind::kFixed, "FIXED_COLUMN_LOG_PARSE");
  if (!specs) return tl::unexpected(specs.error());
  FixedColumnLogParse out;
  for (auto& s : *specs) {
    out.fields_.push_back(Field{s.start, s.length, shape_of(s.column.sql_type)});
    out.columns_.push_back(std::move(s.column));
  }
  return out;
}

LogParseResult FixedColumnLogParse::parse(std::string_view text) const {
  text = non_null(text);
  if (text.size() > kLogParseMaxLineBytes) return std::nullopt;
  std::vector<size_t> points;
  for (const auto& f : fields_) {
    points.push_back(f.start);
    if (f.length) points.push_back(f.start + *f.length);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  const auto offsets = byte_offsets(text, points);
  auto offset_of = [&](size_t ch) {
    return offsets[static_cast<size_t>(std::lower_bound(points.begin(), points.end(), ch) - points.begin())];
  };
  LogFields fields(fields_.size());
  for (size_t i = 0; i < fields_.size(); ++i) {
    const Field& f = fields_[i];
    const size_t begin = offset_of(f.start);
    if (begin >= text.size()) continue;  // starts at or past the end: NULL
    const size_t end = f.length ? offset_of(f.start + *f.length) : text.size();
    fields[i] = shaped(text.substr(begin, end - begin), f.shape);
  }
  if (row_too_big(fields)) return std::nullopt;
  return fields;
}

// ---------------------------------------------------------------------------------------------
// VARIABLE_COLUMN_LOG_PARSE

Status VariableColumnLogParse::set_separators(std::string_view delimiter, std::string_view escape,
                                              std::string_view quote) {
  const std::string fn = "VARIABLE_COLUMN_LOG_PARSE: ";
  if (delimiter.empty()) return bad(fn + "the delimiter is empty");
  if (delimiter.size() > 64) return bad(fn + "the delimiter is longer than 64 bytes");
  if (code_points(escape) > 1) return bad(fn + "the escape must be one character, got " + quoted(escape));
  const size_t quotes = code_points(quote);
  if (quotes > 2) return bad(fn + "the quote string must be one or two characters, got " + quoted(quote));
  delimiter_ = delimiter;
  escape_ = escape;
  if (quotes > 0) {
    size_t i = 0;
    next_code_point(quote, i);
    begin_quote_ = quote.substr(0, i);
    end_quote_ = quotes == 2 ? std::string(quote.substr(i)) : begin_quote_;
  }
  for (const std::string* c : {&escape_, &begin_quote_, &end_quote_}) {
    if (!c->empty() && delimiter_.compare(0, c->size(), *c) == 0) {
      return bad(fn + "the delimiter " + quoted(std::string_view(delimiter_)) +
                 " begins with the escape or quote character " + quoted(std::string_view(*c)));
    }
  }
  if (!escape_.empty() && (escape_ == begin_quote_ || escape_ == end_quote_)) {
    return bad(fn + "the escape and quote characters must differ");
  }
  return {};
}

Result<VariableColumnLogParse> VariableColumnLogParse::with_count(int64_t count, std::string_view delimiter,
                                                                  std::string_view escape, std::string_view quote) {
  if (count < 1 || static_cast<uint64_t>(count) > kLogParseMaxColumns) {
    return bad("VARIABLE_COLUMN_LOG_PARSE: the number of columns must be from 1 to " +
               std::to_string(kLogParseMaxColumns) + ", got " + std::to_string(count));
  }
  VariableColumnLogParse out;
  if (auto st = out.set_separators(delimiter, escape, quote); !st) return tl::unexpected(st.error());
  out.columns_ = numbered_columns(static_cast<size_t>(count), "VARCHAR(1024)");
  out.shapes_.assign(static_cast<size_t>(count), LogFieldShape{true, 1024});
  return out;
}

Result<VariableColumnLogParse> VariableColumnLogParse::with_columns(std::string_view column_list,
                                                                    std::string_view delimiter, std::string_view escape,
                                                                    std::string_view quote) {
  auto specs = parse_column_list(column_list, ListKind::kVariable, "VARIABLE_COLUMN_LOG_PARSE");
  if (!specs) return tl::unexpected(specs.error());
  VariableColumnLogParse out;
  if (auto st = out.set_separators(delimiter, escape, quote); !st) return tl::unexpected(st.error());
  for (auto& s : *specs) {
    out.shapes_.push_back(shape_of(s.column.sql_type));
    out.columns_.push_back(std::move(s.column));
  }
  return out;
}

LogParseResult VariableColumnLogParse::parse(std::string_view text) const {
  text = non_null(text);
  if (text.size() > kLogParseMaxLineBytes) return std::nullopt;
  const size_t n = columns_.size();
  LogFields fields(n);
  auto at = [&](size_t i, const std::string& s) { return !s.empty() && text.compare(i, s.size(), s) == 0; };
  std::string field;
  size_t column = 0;
  bool in_quote = false;
  auto finish = [&] {
    if (column < n) {
      fields[column] = shaped(field, shapes_[column]);
      ++column;
    }
    field.clear();
  };
  for (size_t i = 0; i < text.size() && column < n;) {
    if (at(i, escape_)) {
      i += escape_.size();
      if (i >= text.size()) {  // nothing to escape: the escape stays
        field += escape_;
        break;
      }
      const size_t start = i;
      next_code_point(text, i);
      field.append(text.substr(start, i - start));
    } else if (in_quote) {
      if (at(i, end_quote_)) {
        i += end_quote_.size();
        if (begin_quote_ == end_quote_ && at(i, end_quote_)) {  // "" inside quotes: one "
          field += end_quote_;
          i += end_quote_.size();
        } else {
          in_quote = false;
        }
      } else {
        field += text[i++];
      }
    } else if (at(i, begin_quote_)) {
      in_quote = true;
      i += begin_quote_.size();
    } else if (at(i, delimiter_)) {
      finish();
      i += delimiter_.size();
    } else {
      field += text[i++];
    }
  }
  if (column < n) finish();
  return fields;
}

// ---------------------------------------------------------------------------------------------
// SYS_LOG_PARSE

SysLogParse::SysLogParse()
    : columns_{ParsedColumn{"COLUMN1", "TIMESTAMP", "MMM dd HH:mm:ss", false},
               ParsedColumn{"COLUMN2", "VARCHAR", "", false}} {}

LogParseResult SysLogParse::parse(std::string_view text) const {
  text = non_null(text);
  if (text.size() > kLogParseMaxLineBytes) return std::nullopt;
  size_t i = 0;
  auto skip_spaces = [&] {
    const size_t start = i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    return i > start;
  };
  auto digits = [&](size_t min, size_t max, int& v) {
    const size_t start = i;
    v = 0;
    while (i < text.size() && i - start < max && std::isdigit(static_cast<unsigned char>(text[i]))) {
      v = v * 10 + (text[i++] - '0');
    }
    return i - start >= min;
  };
  if (i < text.size() && text[i] == '<') {  // RFC 3164's <PRI>
    int pri = 0;
    ++i;
    if (!digits(1, 3, pri) || i >= text.size() || text[i] != '>' || pri > 191) return std::nullopt;
    ++i;
  }
  skip_spaces();
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (i + 3 > text.size()) return std::nullopt;
  const std::string month = upper_ascii(text.substr(i, 3));
  const char* name = nullptr;
  for (const char* m : kMonths) {
    if (upper_ascii(m) == month) name = m;
  }
  if (name == nullptr) return std::nullopt;
  i += 3;
  int day = 0, hour = 0, minute = 0, second = 0;
  if (!skip_spaces() || !digits(1, 2, day) || day < 1 || day > 31 || !skip_spaces()) return std::nullopt;
  if (!digits(2, 2, hour) || hour > 23 || i >= text.size() || text[i++] != ':') return std::nullopt;
  if (!digits(2, 2, minute) || minute > 59 || i >= text.size() || text[i++] != ':') return std::nullopt;
  if (!digits(2, 2, second) || second > 59) return std::nullopt;
  if (i < text.size() && !skip_spaces()) return std::nullopt;  // "10:00:00x" is no syslog time
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%s %02d %02d:%02d:%02d", name, day, hour, minute, second);
  return LogFields{std::string(stamp), std::string(text.substr(i))};
}

// ---------------------------------------------------------------------------------------------
// W3C_LOG_PARSE

Result<W3cLogParse> W3cLogParse::make(std::string_view format, bool typed) {
  const std::string fn = "W3C_LOG_PARSE: ";
  std::string name;  // the format name, upper case, single spaces
  for (char c : format) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!name.empty() && name.back() != ' ') name += ' ';
    } else {
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  if (!name.empty() && name.back() == ' ') name.pop_back();
  static const std::map<std::string, std::string> kPredefined = {
      {"COMMON", "%h %l %u %t \"%r\" %>s %b"},
      {"COMMON WITH VHOST", "%v %h %l %u %t \"%r\" %>s %b"},
      {"NCSA EXTENDED", "%h %l %u %t \"%r\" %>s %b \"%[Referer]i\" \"%[User-agent]i\""},
      {"REFERER", "%[Referer]i ---> %U"},
      {"AGENT", "%[User-agent]i"},
  };
  std::string spec;
  if (const auto it = kPredefined.find(name); it != kPredefined.end()) {
    spec = it->second;
  } else if (name == "IIS") {
    return bad(fn +
               "the IIS format is named in the reference without its specifiers; write the format out "
               "(or split the line with VARIABLE_COLUMN_LOG_PARSE)");
  } else if (format.find('%') != std::string_view::npos) {
    spec = format;
  } else {
    return bad(fn + "unknown format " + quoted(format) +
               ": use COMMON, COMMON WITH VHOST, NCSA EXTENDED, REFERER, AGENT or an Apache format with % specifiers");
  }
  if (spec.size() > kMaxPatternBytes) return bad(fn + "the format is longer than 64 KB");

  static const std::string kNumeric = "BbDTIOspP", kText = "aACefhHilmnoqrtuUvVX";
  W3cLogParse out;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.steps_.push_back(Step{std::move(literal), false, false, false});
    literal.clear();
  };
  for (size_t i = 0; i < spec.size();) {
    if (spec[i] == '\\' && i + 1 < spec.size()) {  // as in httpd.conf: \" is ", \t a tab, \n a newline
      const char c = spec[i + 1];
      literal += c == 't' ? '\t' : c == 'n' ? '\n' : c;
      i += 2;
      continue;
    }
    if (spec[i] != '%') {
      literal += spec[i++];
      continue;
    }
    const size_t start = i++;
    if (i < spec.size() && spec[i] == '%') {
      literal += '%';
      ++i;
      continue;
    }
    while (i < spec.size() && (std::isdigit(static_cast<unsigned char>(spec[i])) || spec[i] == ',' || spec[i] == '!' ||
                               spec[i] == '<' || spec[i] == '>')) {
      ++i;
    }
    bool has_arg = false;
    if (i < spec.size() && (spec[i] == '{' || spec[i] == '[')) {
      const char close = spec[i] == '{' ? '}' : ']';
      const size_t end = spec.find(close, i);
      if (end == std::string::npos) return bad(fn + "unterminated " + std::string(1, spec[i]) + " in the format");
      has_arg = true;
      i = end + 1;
    }
    if (i >= spec.size()) return bad(fn + "the format ends inside the specifier " + spec.substr(start));
    const char letter = spec[i++];
    const bool numeric = kNumeric.find(letter) != std::string::npos && !(letter == 'P' && has_arg);
    if (!numeric && kText.find(letter) == std::string::npos) {
      return bad(fn + "unknown format specifier " + spec.substr(start, i - start));
    }
    if (out.columns_.size() == kLogParseMaxColumns) {
      return bad(fn + "the format has more than " + std::to_string(kLogParseMaxColumns) + " specifiers");
    }
    if (literal.empty() && !out.steps_.empty()) {
      return bad(fn + "the specifier " + spec.substr(start, i - start) +
                 " and the one before it have no text between them, so the line cannot be split there");
    }
    flush();
    out.steps_.push_back(Step{"", true, numeric, letter == 't' && !has_arg});
    out.columns_.push_back(
        ParsedColumn{column_name(out.columns_.size()), typed && numeric ? "BIGINT" : "VARCHAR(1024)", "", false});
    out.null_dash_.push_back(typed && numeric);
  }
  flush();
  if (out.columns_.empty()) return bad(fn + "the format " + quoted(format) + " has no % specifier");
  return out;
}

// Left to right, without backtracking: a field runs to the next occurrence of the text that
// follows it in the format (to the end of the line for the last one; a field just before the
// format's closing text runs to where that text ends the line). A %t that starts with '[' runs to
// the ']', kept. A field between quotes skips backslash-escaped characters, as Apache writes \".
// A numeric field must be '-' or digits. The whole line must be used.
LogParseResult W3cLogParse::parse(std::string_view text) const {
  text = non_null(text);
  if (text.size() > kLogParseMaxLineBytes) return std::nullopt;
  LogFields fields(columns_.size());
  size_t pos = 0, column = 0;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    if (!step.field) {
      if (text.compare(pos, step.literal.size(), step.literal) != 0) return std::nullopt;
      pos += step.literal.size();
      continue;
    }
    size_t end = text.size();
    const std::string* next = s + 1 < steps_.size() ? &steps_[s + 1].literal : nullptr;
    const bool closing = next != nullptr && s + 2 == steps_.size();
    if (next == nullptr) {
      end = text.size();
    } else if (closing) {
      if (text.size() < pos + next->size() || text.compare(text.size() - next->size(), next->size(), *next) != 0) {
        return std::nullopt;
      }
      end = text.size() - next->size();
    } else if (step.time && pos < text.size() && text[pos] == '[') {
      end = text.find(']', pos);
      if (end == std::string_view::npos) return std::nullopt;
      ++end;
    } else if (s > 0 && !steps_[s - 1].literal.empty() && steps_[s - 1].literal.back() == '"' && next->front() == '"') {
      end = pos;
      while (end < text.size() && text.compare(end, next->size(), *next) != 0) end += text[end] == '\\' ? 2 : 1;
      if (end >= text.size()) return std::nullopt;
    } else {
      end = text.find(*next, pos);
      if (end == std::string_view::npos) return std::nullopt;
    }
    const std::string_view value = text.substr(pos, end - pos);
    if (step.numeric && value != "-" && (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) {
                                           return std::isdigit(static_cast<unsigned char>(c));
                                         }))) {
      return std::nullopt;
    }
    if (!(null_dash_[column] && value == "-")) fields[column] = std::string(first_chars(value, 1024));
    ++column;
    pos = end;
  }
  if (pos != text.size()) return std::nullopt;
  return fields;
}

}  // namespace eddy::sql
