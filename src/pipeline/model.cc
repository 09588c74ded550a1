#include "pipeline/model.h"

#include "common/digest.h"
#include "common/file_util.h"

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

tl::expected<JobSpec, std::string> make_job(std::string library, nlohmann::json property_groups) {
  auto bytes = read_file(library);
  if (!bytes) return tl::unexpected("cannot read the job library " + library + ": " + bytes.error().message);
  JobSpec j;
  j.library = std::move(library);
  j.property_groups = std::move(property_groups);
  j.digest = to_hex(sha256(*bytes + "\n" + j.property_groups.dump()));
  return j;
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
