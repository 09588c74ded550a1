// Casts between SQL types, on values: what CAST evaluates (expr.h), and how input fields
// (input_schema.h) and window Top-N's outputs take their columns' types.
#pragma once

#include "common/error.h"
#include "runtime/types.h"
#include "runtime/value.h"

namespace eddy::runtime {

// Casts `v` of type `from` to `to`: VARCHAR truncation, numeric conversion with range checks,
// text parsing. Fails with a message when the value cannot be represented.
Status cast_value(const Value& v, const SqlType& from, const SqlType& to, Value& out);

}  // namespace eddy::runtime
