// AWS CloudFormation templates (YAML with !Ref/!Sub/!GetAtt short tags, or JSON; what `cdk synth`
// emits included) translated into the same desired state as a pipeline file.
//
// Resources: AWS::Kinesis::Stream, AWS::KinesisAnalytics::Application (+ ::ApplicationOutput),
// AWS::KinesisAnalyticsV2::Application (SQL, or Flink SQL as plain-text code; + ::ApplicationOutput),
// AWS::KinesisFirehose::DeliveryStream, AWS::S3::Bucket (a bucket directory) and
// AWS::Lambda::Function with inline Python code (written under .eddy/lambda/ beside the template
// and run by the delivery's Lambda runner). Any other type is listed as skipped with its reason.
// Intrinsics: Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::ImportValue (exports of
// the same template), Fn::If/Equals/Not/And/Or with Conditions, Fn::FindInMap with Mappings.
#pragma once

#include <map>
#include <string>

#include <tl/expected.hpp>

#include "pipeline/model.h"

namespace eddy::pipeline {

class YamlFile;

// `stack_name` is what Ref AWS::StackName gives ("eddy" when empty).
tl::expected<DesiredState, FileError> read_template(const YamlFile& yaml,
                                                    const std::map<std::string, std::string>& parameters,
                                                    const std::string& region, const std::string& stack_name = "");

}  // namespace eddy::pipeline
