#include "job/host_loader.h"

#include <nlohmann/json.hpp>

#include "job/job_program.h"

namespace eddy::job {

runtime::JobLoader host_job_loader() {
  return [](const std::filesystem::path& library, const nlohmann::json& groups) -> Result<runtime::LoadedProgram> {
    std::map<std::string, std::map<std::string, std::string>> props;
    if (!groups.is_array()) return make_error(Errc::kInvalidArgument, "PropertyGroups must be a list");
    for (const auto& g : groups) {
      if (!g.is_object() || !g.contains("PropertyGroupId") || !g["PropertyGroupId"].is_string()) {
        return make_error(Errc::kInvalidArgument, "each property group needs a PropertyGroupId");
      }
      auto& map = props[g["PropertyGroupId"].get<std::string>()];
      const nlohmann::json pairs = g.value("PropertyMap", nlohmann::json::object());
      if (!pairs.is_object()) return make_error(Errc::kInvalidArgument, "PropertyMap must be an object of strings");
      for (const auto& [k, v] : pairs.items()) {
        if (!v.is_string()) return make_error(Errc::kInvalidArgument, "property " + k + " must be a string");
        map[k] = v.get<std::string>();
      }
    }
    auto job = load_job(library, Properties(std::move(props)));
    if (!job) return tl::unexpected(job.error());
    runtime::LoadedProgram out;
    out.program = std::move(job->program);
    out.source = job->source;
    out.start = job->start == StartingPosition::kTrimHorizon ? "TRIM_HORIZON" : "NOW";
    for (const auto& s : job->sinks) out.outputs.push_back({s.name, s.target, s.delivery});
    return out;
  };
}

}  // namespace eddy::job
