// One registry of named error codes for the whole library. Modules return these as values
// (Result<T>); api/error_mapping.cc is the single place that turns them into protocol errors.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace eddy {

enum class Errc {
  kResourceNotFound,
  kResourceInUse,
  kInvalidArgument,
  kValidation,
  kLimitExceeded,
  kProvisionedThroughputExceeded,
  kExpiredIterator,
  kExpiredNextToken,
  kAccessDenied,
  kSerialization,
  kUnknownOperation,
  kMissingAuthenticationToken,
  kIncompleteSignature,
  kUnrecognizedClient,
  kInvalidSignature,
  kCodeValidation,                   // Kinesis Analytics: application code does not compile
  kConcurrentModification,           // Kinesis Analytics: stale ApplicationVersionId
  kInvalidApplicationConfiguration,  // Kinesis Analytics: inputs/outputs do not fit the code
  kUnableToDetectSchema,             // Kinesis Analytics: DiscoverInputSchema found no records
  kUnsupportedOperation,
  kCorruption,  // a log batch failed its CRC or framing check
  kIo,          // the operating system refused a file operation
  kInternal,
};

struct Error {
  Errc code;
  std::string message;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

[[nodiscard]] inline tl::unexpected<Error> make_error(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

// Builds an kIo error carrying errno's text, e.g. "open /x/y: No such file or directory".
[[nodiscard]] tl::unexpected<Error> io_error(const std::string& what, int err);

}  // namespace eddy
