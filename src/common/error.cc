#include "common/error.h"

#include <cstring>

namespace eddy {

tl::unexpected<Error> io_error(const std::string& what, int err) {
  return make_error(Errc::kIo, what + ": " + std::strerror(err));
}

}  // namespace eddy
