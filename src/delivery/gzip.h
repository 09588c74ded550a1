// GZIP (RFC 1952) of a whole object or request body, as Firehose compresses S3 objects and
// HTTP endpoint requests.
#pragma once

#include <string>
#include <string_view>

namespace eddy::delivery {

std::string gzip(std::string_view in);

}  // namespace eddy::delivery
