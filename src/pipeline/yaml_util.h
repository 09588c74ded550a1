// Reading YAML with errors that point at the file's line: unknown keys, wrong types and missing
// keys throw FileErrorException carrying the node's position (yaml-cpp's Mark).
#pragma once

#include <initializer_list>
#include <stdexcept>
#include <string>

#include <yaml-cpp/yaml.h>

#include "pipeline/model.h"

namespace eddy::pipeline {

struct FileErrorException : std::runtime_error {
  explicit FileErrorException(FileError e) : std::runtime_error(e.text()), error(std::move(e)) {}
  FileError error;
};

class YamlFile {
 public:
  // Parses `text`; a syntax error throws with the line yaml-cpp reports.
  YamlFile(std::string file, std::string text);

  const YAML::Node& root() const { return root_; }
  const std::string& file() const { return file_; }
  const std::string& text() const { return text_; }

  Location at(const YAML::Node& n) const;
  [[noreturn]] void fail(const YAML::Node& n, const std::string& message) const;

  // `n` must be a mapping whose keys are all in `allowed`; `what` names it in messages.
  void check_map(const YAML::Node& n, const std::string& what, std::initializer_list<const char*> allowed) const;
  std::string string(const YAML::Node& n, const std::string& what) const;
  int integer(const YAML::Node& n, const std::string& what, int min, int max) const;
  bool boolean(const YAML::Node& n, const std::string& what) const;
  // A required key of a mapping.
  YAML::Node required(const YAML::Node& map, const char* key, const std::string& what) const;
  // Where an inline block of text (e.g. `sql: |`) begins: the line after a `|` or `>` indicator.
  Location content_start(const YAML::Node& scalar) const;

 private:
  std::string file_;
  std::string text_;
  YAML::Node root_;
};

}  // namespace eddy::pipeline
