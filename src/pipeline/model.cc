#include "pipeline/model.h"

namespace eddy::pipeline {

namespace {
constexpr const char* kAccount = "000000000000";
}

std::string Location::prefix() const {
  if (file.empty() && line == 0) return "";
  std::string p = file;
  if (line > 0) p += ":" + std::to_string(line) + (column > 0 ? ":" + std::to_string(column) : "");
  return p + ": ";
}

std::string stream_arn(const std::string& region, const std::string& name) {
  return "arn:aws:kinesis:" + region + ":" + kAccount + ":stream/" + name;
}

std::string delivery_arn(const std::string& region, const std::string& name) {
  return "arn:aws:firehose:" + region + ":" + kAccount + ":deliverystream/" + name;
}

std::string application_arn(const std::string& region, const std::string& name) {
  return "arn:aws:kinesisanalytics:" + region + ":" + kAccount + ":application/" + name;
}

std::string name_from_arn(const std::string& arn) {
  if (!arn.starts_with("arn:")) return arn;
  const size_t slash = arn.rfind('/');
  if (slash != std::string::npos) return arn.substr(slash + 1);
  const size_t colon = arn.rfind(':');  // arn:aws:s3:::bucket
  return colon == std::string::npos ? arn : arn.substr(colon + 1);
}

}  // namespace eddy::pipeline
