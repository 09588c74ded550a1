# The Debian package (issue 26, `make package`): eddy as a system service.
#   /usr/bin/eddy                      the binary
#   /lib/systemd/system/eddy.service   the unit (packaging/eddy.service): user eddy, data in /var/lib/eddy
#   /etc/eddy/eddy.yaml                the settings of `eddy serve` (packaging/eddy.yaml), a conffile
#   /usr/share/doc/eddy/               README.md and docs/**/*.md, their relative links intact
# with the maintainer scripts of packaging/debian/ (the user, the unit's enabling and starting).
# `cpack --config <build>/CPackConfig.cmake` packs the tree as built: it compiles nothing.
# tests/package/test_package.sh checks the result.

install(TARGETS eddy RUNTIME DESTINATION bin)  # CPACK_PACKAGING_INSTALL_PREFIX /usr: /usr/bin/eddy
# Absolute destinations: the unit and the configuration live at these paths whatever the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/eddy.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/eddy.yaml DESTINATION /etc/eddy)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/eddy)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/eddy/docs FILES_MATCHING PATTERN "*.md")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME eddy)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "eddy developers")
set(CPACK_PACKAGE_CONTACT "eddy developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted Kinesis-compatible streaming server")
set(CPACK_PACKAGE_DESCRIPTION
    "eddy speaks the AWS Kinesis Data Streams, Kinesis Data Analytics and
Firehose APIs, and keeps records in a durable, sharded append-only log on
local disk (or in a NATS JetStream cluster). It runs SQL applications in the
Kinesis Data Analytics dialect, Flink SQL and C++ jobs with exactly-once
outputs, and serves a dashboard and Prometheus metrics.
This package runs it as the systemd service eddy.service (user eddy, data in
/var/lib/eddy, settings in /etc/eddy/eddy.yaml).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME eddy)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # eddy_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "eddy developers")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The postinst makes the user with adduser (adduser is not essential).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# The libraries' packages, as dpkg-shlibdeps finds them for the binary (dpkg-dev). Without it (or
# with -DEDDY_PACKAGE_SHLIBDEPS=OFF), the packages Debian 12 (bookworm) has them in, as
# `ldd build/release/eddy` showed there.
option(EDDY_PACKAGE_SHLIBDEPS "Compute the Debian package's library dependencies with dpkg-shlibdeps" ON)
find_program(EDDY_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(EDDY_DPKG_SHLIBDEPS)
if(EDDY_PACKAGE_SHLIBDEPS AND EDDY_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS
         ", libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1, libssl3, zlib1g, libcurl4, libnghttp2-14,"
         " libre2-9, libicu72, libnats3.4, libsimdjson14, libyaml-cpp0.7")
  if(EDDY_JEMALLOC)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libjemalloc2")
  endif()
endif()
# postinst, prerm, postrm (mode 0755, as dpkg requires) and conffiles (/etc/eddy/eddy.yaml).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
