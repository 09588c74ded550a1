// The hot path of input mapping: a flat record read with simdjson's On-Demand API, which builds
// no DOM and converts each value straight from the record's bytes into the column's Value. The
// general mapping (map_flat over a parsed document) decides everything this path does not take,
// so the two give the same rows, errors and ROWTIMEs; the path only declines, never differs.
//
// It declines (returns false) for: a record that is not an object, a key written with escapes,
// a value of a kind other than the column's usual one (see InputSchema::Fast), an unmapped
// object or array (the general path validates what is inside it), and any JSON error. Unmapped
// scalars are still checked, so a malformed record reaches the general path and its parse error.
#pragma once

#include <simdjson.h>

#include <vector>

#include "runtime/input_schema.h"
#include "runtime/value.h"

namespace eddy::runtime {

// Whether map_flat_ondemand can map records of `schema` at all (InputSchema::ondemand).
bool ondemand_mappable(const InputSchema& schema);

// One record (an object) into values[0..columns) (grown if shorter; later values left alone).
// `strict_column` (or -1): a TIMESTAMP column whose text must have no surrounding spaces, since
// it doubles as the arrival time, which is read without trimming. `hints` as map_flat's.
bool map_flat_ondemand(const InputSchema& schema, simdjson::ondemand::object record, std::vector<Value>& values,
                       std::vector<int>& hints, int strict_column);

// The column that holds field `field` as a TIMESTAMP in a schema mapping records on-demand: the
// arrival time read from the mapped row instead of a second lookup. -1: none.
int ondemand_timestamp_column(const InputSchema& schema, const std::string& field);

}  // namespace eddy::runtime
