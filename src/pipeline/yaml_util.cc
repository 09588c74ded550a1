#include "pipeline/yaml_util.h"

#include <algorithm>
#include <climits>

namespace eddy::pipeline {

YamlFile::YamlFile(std::string file, std::string text) : file_(std::move(file)), text_(std::move(text)) {
  try {
    root_ = YAML::Load(text_);
  } catch (const YAML::ParserException& e) {
    throw FileErrorException({{file_, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg});
  } catch (const YAML::Exception& e) {
    throw FileErrorException({{file_, e.mark.line + 1, e.mark.column + 1}, e.msg});
  }
}

Location YamlFile::at(const YAML::Node& n) const {
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return {file_, 0, 0};
  return {file_, m.line + 1, m.column + 1};
}

void YamlFile::fail(const YAML::Node& n, const std::string& message) const {
  throw FileErrorException({at(n), message});
}

void YamlFile::check_map(const YAML::Node& n, const std::string& what,
                         std::initializer_list<const char*> allowed) const {
  if (!n.IsMap()) fail(n, what + " must be a mapping (key: value lines)");
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string key = it->first.Scalar();
    const bool known = std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; });
    if (known) continue;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    fail(it->first, "unknown key '" + key + "' in " + what + "; expected one of: " + list);
  }
}

std::string YamlFile::string(const YAML::Node& n, const std::string& what) const {
  if (!n.IsScalar()) fail(n, what + " must be a text value");
  return n.Scalar();
}

int YamlFile::integer(const YAML::Node& n, const std::string& what, int min, int max) const {
  const std::string text = string(n, what);
  try {
    size_t used = 0;
    const long v = std::stol(text, &used);
    if (used == text.size() && v >= min && v <= max) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  fail(n, what + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" +
              text + "'");
}

bool YamlFile::boolean(const YAML::Node& n, const std::string& what) const {
  const std::string text = string(n, what);
  if (text == "true" || text == "yes" || text == "True") return true;
  if (text == "false" || text == "no" || text == "False") return false;
  fail(n, what + " must be true or false, not '" + text + "'");
}

YAML::Node YamlFile::required(const YAML::Node& map, const char* key, const std::string& what) const {
  YAML::Node v = map[key];
  if (!v.IsDefined() || v.IsNull()) fail(map, what + " needs '" + key + "'");
  return v;
}

Location YamlFile::content_start(const YAML::Node& scalar) const {
  Location l = at(scalar);
  size_t pos = scalar.Mark().pos;
  if (pos < text_.size() && text_[pos] == '!') {  // a tag (`!Sub |`): the indicator follows it
    const size_t end = text_.find_first_of(" \n", pos);
    if (end != std::string::npos && text_[end] == ' ') pos = text_.find_first_not_of(' ', end);
    if (pos == std::string::npos) pos = text_.size();
  }
  if (pos < text_.size() && (text_[pos] == '|' || text_[pos] == '>')) {
    const size_t next = text_.find('\n', pos);
    if (next != std::string::npos) {
      size_t indent = 0;
      while (next + 1 + indent < text_.size() && text_[next + 1 + indent] == ' ') ++indent;
      return {file_, l.line + 1, static_cast<int>(indent) + 1};
    }
  }
  if (pos < text_.size() && (text_[pos] == '"' || text_[pos] == '\'')) ++l.column;
  return l;
}

}  // namespace eddy::pipeline
