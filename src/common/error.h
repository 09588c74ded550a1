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
  kCorruption,   // a log batch failed its CRC or framing check
  kIo,           // the operating system refused a file operation
  kUnavailable,  // a backend (the NATS cluster) cannot answer now; the caller may retry
  kKmsNotFound,  // the key that encrypts a stream's records at rest is not there
  kInternal,
};

struct Error {
  Errc code;
  std::string message;
};

// A value or the reason there is none. [[nodiscard]]: a result nobody looks at is a failure nobody
// sees; where ignoring one is right, `(void)` says so at the call with a comment saying why.
template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
  using Base = tl::expected<T, Error>;

 public:
  using Base::Base;
  Result() = default;
  Result(const Base& b) : Base(b) {}
  Result(Base&& b) : Base(std::move(b)) {}
};
using Status = Result<void>;

[[nodiscard]] inline tl::unexpected<Error> make_error(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

// Builds an kIo error carrying errno's text, e.g. "open /x/y: No such file or directory".
[[nodiscard]] tl::unexpected<Error> io_error(const std::string& what, int err);

}  // namespace eddy
