#include "api/aws_errors.h"

#include "api/writer.h"
#include "common/fault_log.h"

namespace eddy::api {

const char* aws_error_type(Errc code) {
  switch (code) {
    case Errc::kResourceNotFound:
      return "ResourceNotFoundException";
    case Errc::kResourceInUse:
      return "ResourceInUseException";
    case Errc::kInvalidArgument:
      return "InvalidArgumentException";
    case Errc::kValidation:
      return "ValidationException";
    case Errc::kLimitExceeded:
      return "LimitExceededException";
    case Errc::kProvisionedThroughputExceeded:
      return "ProvisionedThroughputExceededException";
    case Errc::kExpiredIterator:
      return "ExpiredIteratorException";
    case Errc::kExpiredNextToken:
      return "ExpiredNextTokenException";
    case Errc::kAccessDenied:
      return "AccessDeniedException";
    case Errc::kSerialization:
      return "SerializationException";
    case Errc::kUnknownOperation:
      return "UnknownOperationException";
    case Errc::kMissingAuthenticationToken:
      return "MissingAuthenticationTokenException";
    case Errc::kIncompleteSignature:
      return "IncompleteSignatureException";
    case Errc::kUnrecognizedClient:
      return "UnrecognizedClientException";
    case Errc::kInvalidSignature:
      return "InvalidSignatureException";
    case Errc::kCodeValidation:
      return "CodeValidationException";
    case Errc::kConcurrentModification:
      return "ConcurrentModificationException";
    case Errc::kInvalidApplicationConfiguration:
      return "InvalidApplicationConfigurationException";
    case Errc::kUnableToDetectSchema:
      return "UnableToDetectSchemaException";
    case Errc::kUnsupportedOperation:
      return "UnsupportedOperationException";
    case Errc::kUnavailable:
      return "ServiceUnavailable";
    case Errc::kKmsNotFound:
      return "KMSNotFoundException";
    case Errc::kCorruption:
    case Errc::kIo:
    case Errc::kInternal:
      return "InternalFailure";
  }
  return "InternalFailure";
}

Errc errc_of_aws_error_type(std::string_view type, int http_status) {
  for (int c = 0; c <= static_cast<int>(Errc::kInternal); ++c) {
    if (type == aws_error_type(static_cast<Errc>(c))) return static_cast<Errc>(c);
  }
  return http_status >= 500 ? Errc::kInternal : Errc::kInvalidArgument;
}

int aws_http_status(Errc code) {
  switch (code) {
    case Errc::kCorruption:
    case Errc::kIo:
    case Errc::kInternal:
      return 500;
    case Errc::kUnavailable:
      return 503;  // every AWS SDK retries it
    default:
      return 400;
  }
}

const char* content_type_for(Protocol protocol) {
  return protocol == Protocol::kCbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
}

HttpResponse error_response(const Error& error, Protocol protocol) {
  HttpResponse r;
  r.status = aws_http_status(error.code);
  r.content_type = content_type_for(protocol);
  auto w = make_writer(protocol);
  w->begin_object();
  w->field("__type", aws_error_type(error.code));
  // Server faults keep their detail in the log, not on the wire.
  if (r.status >= 500) log_fault("a request", error.message);
  w->field("message", r.status >= 500
                          ? std::string_view(r.status == 503 ? "Service Unavailable" : "Internal Service Failure")
                          : std::string_view(error.message));
  w->end_object();
  r.body = std::move(w->buffer());
  r.headers.emplace_back("x-amzn-ErrorType", aws_error_type(error.code));
  return r;
}

}  // namespace eddy::api
