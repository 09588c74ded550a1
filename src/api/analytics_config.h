// The parts of a Kinesis Data Analytics application's configuration that the v1
// (KinesisAnalytics_20150814) and v2 (KinesisAnalytics_20180523) control planes share: their
// inputs, outputs and their updates have the same members in both APIs.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "common/error.h"
#include "host/application_host.h"

namespace eddy::api::analytics {

// Sets a new application's Inputs and Outputs, giving them their ids ("1.1", "2.1", ...), and
// checks what eddy runs: one streaming input without Lambda preprocessing, up to 3 outputs with
// one destination each.
Status set_inputs_and_outputs(nlohmann::json& config, nlohmann::json inputs, nlohmann::json outputs);
std::string next_id(const nlohmann::json& list, const char* key);
// Add (`processing`) or delete (null) the InputProcessingConfiguration of input `input_id`.
Status set_input_processing(nlohmann::json& config, const std::string& input_id, const nlohmann::json* processing);

// Reference data sources (KDA's ReferenceDataSources), shared by the v1 and v2 APIs. `v2`: the
// v2 shapes, which have no ReferenceRoleARN.
Status add_reference_source(nlohmann::json& config, nlohmann::json source);
Status delete_reference_source(nlohmann::json& config, const std::string& reference_id);
Status apply_reference_updates(nlohmann::json& config, const nlohmann::json& updates);
nlohmann::json reference_descriptions(const host::HostedApplication& a, bool v2);

// An input's own shape rules (a preprocessor names a Lambda function).
Status check_input(const nlohmann::json& input);
Status check_destinations(const nlohmann::json& outputs);

// InputDescriptions / OutputDescriptions of DescribeApplication.
nlohmann::json input_descriptions(const host::HostedApplication& a);
// eddy's own member of ApplicationDetail, "EddyFault": {"Reason", "Since"} while a RUNNING
// application cannot make progress (an output it cannot write durably, a checkpoint it cannot
// save; it retries). Not in AWS's model: SDKs drop it; `eddy apps describe` shows it.
void add_fault(nlohmann::json& detail, const host::HostedApplication& a);
nlohmann::json output_descriptions(const host::HostedApplication& a);

// UpdateApplication's InputUpdates, OutputUpdates and ParallelismConfigurationUpdate applied
// to a stored configuration.
Status apply_input_updates(nlohmann::json& config, const nlohmann::json& updates);
Status apply_output_updates(nlohmann::json& config, const nlohmann::json& updates);
void apply_parallelism_update(nlohmann::json& config, const nlohmann::json& update);

}  // namespace eddy::api::analytics
