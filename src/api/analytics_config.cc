#include "api/analytics_config.h"

#include <algorithm>
#include <cstdlib>

namespace eddy::api::analytics {

using nlohmann::json;

namespace {

json in_app_names(const json& input) {
  json names = json::array();
  const int n = input.value("InputParallelism", json::object()).value("Count", 1);
  for (int lane = 0; lane < n; ++lane) {
    names.push_back(runtime::input_stream_name(input.at("NamePrefix").get<std::string>(), static_cast<size_t>(lane)));
  }
  return names;
}

}  // namespace

Status set_input_processing(json& config, const std::string& input_id, const json* processing) {
  for (auto& in : config["Inputs"]) {
    if (in.value("InputId", "") != input_id) continue;
    if (!processing) {
      if (!in.contains("InputProcessingConfiguration"))
        return make_error(Errc::kResourceNotFound, "Input " + input_id + " has no InputProcessingConfiguration");
      in.erase("InputProcessingConfiguration");
      return {};
    }
    if (in.contains("InputProcessingConfiguration"))
      return make_error(Errc::kInvalidArgument, "Input " + input_id + " already has an InputProcessingConfiguration");
    in["InputProcessingConfiguration"] = *processing;
    return check_input(in);
  }
  return make_error(Errc::kResourceNotFound, "Input " + input_id + " not found");
}

Status add_reference_source(json& config, json source) {
  auto& sources = config["ReferenceDataSources"];
  if (!sources.is_array()) sources = json::array();
  source["ReferenceId"] = next_id(sources, "ReferenceId");
  sources.push_back(std::move(source));
  return {};
}

Status delete_reference_source(json& config, const std::string& id) {
  auto& sources = config["ReferenceDataSources"];
  if (sources.is_array()) {
    for (auto it = sources.begin(); it != sources.end(); ++it) {
      if (it->value("ReferenceId", "") != id) continue;
      sources.erase(it);
      return {};
    }
  }
  return make_error(Errc::kResourceNotFound, "Reference data source " + id + " not found");
}

Status apply_reference_updates(json& config, const json& updates) {
  for (const auto& u : updates) {
    const std::string id = u.value("ReferenceId", "");
    auto& sources = config["ReferenceDataSources"];
    auto it = sources.is_array() ? std::find_if(sources.begin(), sources.end(),
                                                [&](const json& s) { return s.value("ReferenceId", "") == id; })
                                 : sources.end();
    if (!sources.is_array() || it == sources.end())
      return make_error(Errc::kResourceNotFound, "Reference data source " + id + " not found");
    if (u.contains("TableNameUpdate")) (*it)["TableName"] = u["TableNameUpdate"];
    if (u.contains("ReferenceSchemaUpdate")) (*it)["ReferenceSchema"] = u["ReferenceSchemaUpdate"];
    if (u.contains("S3ReferenceDataSourceUpdate")) {
      const auto& s3 = u["S3ReferenceDataSourceUpdate"];
      auto& to = (*it)["S3ReferenceDataSource"];
      if (s3.contains("BucketARNUpdate")) to["BucketARN"] = s3["BucketARNUpdate"];
      if (s3.contains("FileKeyUpdate")) to["FileKey"] = s3["FileKeyUpdate"];
      if (s3.contains("ReferenceRoleARNUpdate")) to["ReferenceRoleARN"] = s3["ReferenceRoleARNUpdate"];
    }
  }
  return {};
}

json reference_descriptions(const host::HostedApplication& a, bool v2) {
  json out = json::array();
  for (const auto& s : a.config.value("ReferenceDataSources", json::array())) {
    json s3 = s.value("S3ReferenceDataSource", json::object());
    if (v2) s3.erase("ReferenceRoleARN");
    out.push_back({{"ReferenceId", s.value("ReferenceId", "")},
                   {"TableName", s.value("TableName", "")},
                   {"S3ReferenceDataSourceDescription", s3},
                   {"ReferenceSchema", s.value("ReferenceSchema", json::object())}});
  }
  return out;
}

Status check_input(const json& input) {
  if (input.contains("InputProcessingConfiguration") &&
      !input["InputProcessingConfiguration"].contains("InputLambdaProcessor")) {
    return make_error(Errc::kInvalidArgument, "InputProcessingConfiguration needs an InputLambdaProcessor");
  }
  return {};
}

std::string next_id(const json& list, const char* key) {
  int max = 0;
  for (const auto& e : list) {
    const auto id = e.value(key, std::string("0.1"));
    max = std::max(max, std::atoi(id.c_str()));
  }
  return std::to_string(max + 1) + ".1";
}

Status check_destinations(const json& outputs) {
  if (outputs.size() > 3) return make_error(Errc::kLimitExceeded, "An application can have at most 3 outputs");
  for (const auto& o : outputs) {
    if (o.contains("LambdaOutput"))
      return make_error(Errc::kUnsupportedOperation, "LambdaOutput is not supported by eddy");
    if (o.contains("KinesisFirehoseOutput") && o.contains("KinesisStreamsOutput")) {
      return make_error(Errc::kInvalidArgument,
                        "An output has one destination: KinesisStreamsOutput or KinesisFirehoseOutput");
    }
  }
  return {};
}

Status set_inputs_and_outputs(json& config, json inputs, json outputs) {
  if (inputs.size() > 1)
    return make_error(Errc::kInvalidArgument, "An application can have at most one streaming input");
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (auto st = check_input(inputs[i]); !st) return st;
    inputs[i]["InputId"] = std::to_string(i + 1) + ".1";
  }
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i]["OutputId"] = std::to_string(i + 1) + ".1";
  if (auto st = check_destinations(outputs); !st) return st;
  config["Inputs"] = std::move(inputs);
  config["Outputs"] = std::move(outputs);
  return {};
}

json input_descriptions(const host::HostedApplication& a) {
  json inputs = json::array();
  for (const auto& in : a.config.value("Inputs", json::array())) {
    json i = {{"InputId", in.at("InputId")},
              {"NamePrefix", in.at("NamePrefix")},
              {"InAppStreamNames", in_app_names(in)},
              {"InputSchema", in.at("InputSchema")},
              {"InputParallelism", {{"Count", in.value("InputParallelism", json::object()).value("Count", 1)}}}};
    if (in.contains("KinesisStreamsInput")) i["KinesisStreamsInputDescription"] = in["KinesisStreamsInput"];
    if (in.contains("InputProcessingConfiguration")) {
      i["InputProcessingConfigurationDescription"] = {
          {"InputLambdaProcessorDescription",
           in["InputProcessingConfiguration"].value("InputLambdaProcessor", json::object())}};
    }
    if (!a.starting_position.empty() && a.starting_position != host::ApplicationHost::kInitialPosition) {
      i["InputStartingPositionConfiguration"] = {{"InputStartingPosition", a.starting_position}};
    }
    inputs.push_back(std::move(i));
  }
  return inputs;
}

json output_descriptions(const host::HostedApplication& a) {
  json outputs = json::array();
  for (const auto& out : a.config.value("Outputs", json::array())) {
    json o = {
        {"OutputId", out.at("OutputId")}, {"Name", out.at("Name")}, {"DestinationSchema", out.at("DestinationSchema")}};
    if (out.contains("KinesisStreamsOutput")) o["KinesisStreamsOutputDescription"] = out["KinesisStreamsOutput"];
    if (out.contains("KinesisFirehoseOutput")) o["KinesisFirehoseOutputDescription"] = out["KinesisFirehoseOutput"];
    outputs.push_back(std::move(o));
  }
  return outputs;
}

Status apply_input_updates(json& c, const json& updates) {
  for (const auto& iu : updates) {
    auto& inputs = c["Inputs"];
    auto it = std::find_if(inputs.begin(), inputs.end(),
                           [&](const json& i) { return i.value("InputId", "") == iu["InputId"]; });
    if (it == inputs.end())
      return make_error(Errc::kResourceNotFound, "Input " + iu["InputId"].get<std::string>() + " not found");
    if (iu.contains("InputProcessingConfigurationUpdate")) {
      const auto& l = iu["InputProcessingConfigurationUpdate"].value("InputLambdaProcessorUpdate", json::object());
      if (!it->contains("InputProcessingConfiguration")) {
        return make_error(Errc::kInvalidArgument, "Input " + iu["InputId"].get<std::string>() +
                                                      " has no InputProcessingConfiguration to update; add one with "
                                                      "AddApplicationInputProcessingConfiguration");
      }
      auto& to = (*it)["InputProcessingConfiguration"]["InputLambdaProcessor"];
      if (l.contains("ResourceARNUpdate")) to["ResourceARN"] = l["ResourceARNUpdate"];
      if (l.contains("RoleARNUpdate")) to["RoleARN"] = l["RoleARNUpdate"];
    }
    if (iu.contains("NamePrefixUpdate")) (*it)["NamePrefix"] = iu["NamePrefixUpdate"];
    if (iu.contains("KinesisStreamsInputUpdate")) {
      const auto& k = iu["KinesisStreamsInputUpdate"];
      if (k.contains("ResourceARNUpdate")) (*it)["KinesisStreamsInput"]["ResourceARN"] = k["ResourceARNUpdate"];
      if (k.contains("RoleARNUpdate")) (*it)["KinesisStreamsInput"]["RoleARN"] = k["RoleARNUpdate"];
    }
    if (iu.contains("InputSchemaUpdate")) {
      const auto& s = iu["InputSchemaUpdate"];
      if (s.contains("RecordFormatUpdate")) (*it)["InputSchema"]["RecordFormat"] = s["RecordFormatUpdate"];
      if (s.contains("RecordEncodingUpdate")) (*it)["InputSchema"]["RecordEncoding"] = s["RecordEncodingUpdate"];
      if (s.contains("RecordColumnUpdates")) (*it)["InputSchema"]["RecordColumns"] = s["RecordColumnUpdates"];
    }
    if (iu.contains("InputParallelismUpdate")) {
      (*it)["InputParallelism"] = {{"Count", iu["InputParallelismUpdate"].value("CountUpdate", 1)}};
    }
  }
  return {};
}

Status apply_output_updates(json& c, const json& updates) {
  for (const auto& ou : updates) {
    auto& outputs = c["Outputs"];
    auto it = std::find_if(outputs.begin(), outputs.end(),
                           [&](const json& o) { return o.value("OutputId", "") == ou["OutputId"]; });
    if (it == outputs.end())
      return make_error(Errc::kResourceNotFound, "Output " + ou["OutputId"].get<std::string>() + " not found");
    if (ou.contains("NameUpdate")) (*it)["Name"] = ou["NameUpdate"];
    if (ou.contains("DestinationSchemaUpdate")) (*it)["DestinationSchema"] = ou["DestinationSchemaUpdate"];
    if (ou.contains("KinesisStreamsOutputUpdate")) {
      const auto& k = ou["KinesisStreamsOutputUpdate"];
      it->erase("KinesisFirehoseOutput");
      if (k.contains("ResourceARNUpdate")) (*it)["KinesisStreamsOutput"]["ResourceARN"] = k["ResourceARNUpdate"];
      if (k.contains("RoleARNUpdate")) (*it)["KinesisStreamsOutput"]["RoleARN"] = k["RoleARNUpdate"];
    }
    if (ou.contains("KinesisFirehoseOutputUpdate")) {
      const auto& k = ou["KinesisFirehoseOutputUpdate"];
      it->erase("KinesisStreamsOutput");
      if (k.contains("ResourceARNUpdate")) (*it)["KinesisFirehoseOutput"]["ResourceARN"] = k["ResourceARNUpdate"];
      if (k.contains("RoleARNUpdate")) (*it)["KinesisFirehoseOutput"]["RoleARN"] = k["RoleARNUpdate"];
    }
    if (ou.contains("LambdaOutputUpdate"))
      return make_error(Errc::kUnsupportedOperation, "LambdaOutput is not supported by eddy");
  }
  return {};
}

void apply_parallelism_update(json& c, const json& pu) {
  json& pc = c["ParallelismConfiguration"];
  if (!pc.is_object()) pc = {{"ConfigurationType", "DEFAULT"}};
  if (pu.contains("ConfigurationTypeUpdate")) pc["ConfigurationType"] = pu["ConfigurationTypeUpdate"];
  if (pu.contains("ParallelismUpdate")) pc["Parallelism"] = pu["ParallelismUpdate"];
}

void add_fault(nlohmann::json& detail, const host::HostedApplication& a) {
  if (!a.fault) return;
  detail["EddyFault"] = {{"Reason", a.fault->reason}, {"Since", static_cast<double>(a.fault->since_ms) / 1000.0}};
}

}  // namespace eddy::api::analytics
