// Fuzz target: application code through the lexer, parser and binder (with one JSON input).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "runtime/application.h"
#include "sql/compile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto schema =
      eddy::runtime::parse_input_schema(R"j({"RecordFormat":{"RecordFormatType":"JSON"},"RecordColumns":[)j"
                                        R"j({"Name":"store_id","Mapping":"$.store_id","SqlType":"VARCHAR(16)"},)j"
                                        R"j({"Name":"sales","Mapping":"$.sales","SqlType":"REAL"},)j"
                                        R"j({"Name":"ts","Mapping":"$.ts","SqlType":"TIMESTAMP"}]})j");
  eddy::ManualClock clock(1'600'000'000'000);
  eddy::runtime::ApplicationInput input;
  input.schema = *schema;
  auto app =
      eddy::sql::compile_application(std::string_view(reinterpret_cast<const char*>(data), size), {input}, clock);
  if (app) {
    (*app)->push_record(0, R"j({"store_id":"s","sales":1.5,"ts":"2021-01-31 14:05:47"})j", 1'600'000'000'000, 1);
    (*app)->push_record(0, R"j({"store_id":"t","sales":null})j", 1'600'000'060'000, 2);
    (*app)->flush();
  }
  return 0;
}
