#!/usr/bin/env bash
# The Debian package of `make package` (cmake/Packaging.cmake), built from an already-built tree:
#   tests/package/test_package.sh BUILD_DIR        (ctest: package, with ${CMAKE_BINARY_DIR})
# - cpack packs BUILD_DIR into a temporary directory (it compiles nothing);
# - the package holds /usr/bin/eddy, the unit, the conffile /etc/eddy/eddy.yaml and the docs, and
#   its control fields name it eddy, at the project's version, depending on adduser and on the
#   package of every library the binary links;
# - `systemd-analyze verify` accepts the unit without a warning (offline: systemd need not run);
# - dpkg installs it into a scratch root (--root, maintainer scripts run chrootless with
#   DPKG_ROOT): the user eddy is made there and not on this machine, the configuration is root:eddy
#   0640, the unit is enabled, nothing is started; remove keeps the data, purge deletes it;
# - the installed binary runs: --version, and `eddy serve` on 127.0.0.1 port 0 exits 0 within 10 s
#   of a SIGTERM.
# Prints one line on success, the failing check and its log otherwise. Exit 77 (ctest: skipped)
# when the Debian tools are missing.
set -euo pipefail

build="${1:?usage: test_package.sh BUILD_DIR}"
build="$(cd "$build" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(cd "$here/../.." && pwd)"

missing=()
for tool in cpack dpkg-deb dpkg systemd-analyze; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test_package: skipped: ${missing[*]} not found (make deps installs them)"
  exit 77
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/eddy-package-test.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "test_package: FAIL: $1" >&2
  if [ $# -gt 1 ] && [ -f "$2" ]; then
    echo "--- $2" >&2
    tail -n 60 "$2" >&2
  fi
  exit 1
}

# Runs a command with its output in $tmp/log; on failure prints the output and stops.
run() {
  local what="$1"
  shift
  if ! timeout 120 "$@" >"$tmp/log" 2>&1; then fail "$what: $*" "$tmp/log"; fi
}

# ------------------------------------------------------------------------------------- the package
[ -f "$build/CPackConfig.cmake" ] || fail "$build/CPackConfig.cmake missing: configure with cmake --preset release"
[ -x "$build/eddy" ] || fail "$build/eddy missing: build first (make build)"
run "cpack" cpack --config "$build/CPackConfig.cmake" -B "$tmp/out"
debs=("$tmp"/out/eddy_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then fail "cpack made no single eddy_*.deb: ${debs[*]}" "$tmp/log"; fi
deb="${debs[0]}"

version="$(sed -n 's/^project(eddy VERSION \([0-9][0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")"
[ -n "$version" ] || fail "no project(eddy VERSION ...) in $source_dir/CMakeLists.txt"
arch="$(dpkg --print-architecture)"
[ "$(basename "$deb")" = "eddy_${version}_${arch}.deb" ] || fail "file name $(basename "$deb"), expected eddy_${version}_${arch}.deb"

# Contents: path and mode of every entry.
dpkg-deb --contents "$deb" | awk '{print $1, $6}' | sed 's| \./| /|' >"$tmp/contents"
expect_entry() {  # MODE PATH
  grep -qxF -- "$1 $2" "$tmp/contents" || fail "the package has no $2 with mode $1" "$tmp/contents"
}
expect_entry -rwxr-xr-x /usr/bin/eddy
expect_entry -rw-r--r-- /lib/systemd/system/eddy.service
expect_entry -rw-r--r-- /etc/eddy/eddy.yaml
expect_entry -rw-r--r-- /usr/share/doc/eddy/README.md
(cd "$source_dir/docs" && find . -name '*.md' -type f | sed 's|^\./||' | sort) >"$tmp/docs"
[ -s "$tmp/docs" ] || fail "no markdown under $source_dir/docs"
while read -r doc; do
  expect_entry -rw-r--r-- "/usr/share/doc/eddy/docs/$doc"
done <"$tmp/docs"
dpkg-deb --contents "$deb" >"$tmp/listing"
if awk '{print $2}' "$tmp/listing" | grep -qv '^root/root$'; then fail "files not owned by root/root" "$tmp/listing"; fi

# Control fields.
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = eddy ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), expected $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ "$(field Maintainer)" = "eddy developers" ] || fail "Maintainer: $(field Maintainer)"
depends="$(field Depends)"
# The package names in Depends, one a line, without version constraints.
printf '%s\n' "${depends//[,|]/$'\n'}" | sed 's/(.*)//; s/^ *//; s/ *$//' | grep -v '^$' | sort -u >"$tmp/depends"
grep -qx adduser "$tmp/depends" || fail "Depends lacks adduser: $depends"

# Control files: the maintainer scripts (0755, valid sh) and the conffile.
mkdir "$tmp/control"
dpkg-deb --control "$deb" "$tmp/control"
grep -qx /etc/eddy/eddy.yaml "$tmp/control/conffiles" || fail "/etc/eddy/eddy.yaml is not a conffile" "$tmp/control/conffiles"
for script in postinst prerm postrm; do
  [ -f "$tmp/control/$script" ] || fail "no $script in the package"
  [ "$(stat -c %a "$tmp/control/$script")" = 755 ] || fail "$script has mode $(stat -c %a "$tmp/control/$script")"
  sh -n "$tmp/control/$script" 2>"$tmp/log" || fail "$script is not valid sh" "$tmp/log"
  if command -v shellcheck >/dev/null 2>&1; then
    shellcheck -s sh "$tmp/control/$script" >"$tmp/log" 2>&1 || fail "shellcheck $script" "$tmp/log"
  fi
done

# ------------------------------------------------------------------------------------- the unit
mkdir "$tmp/extracted"
dpkg-deb -x "$deb" "$tmp/extracted"
unit="$tmp/extracted/lib/systemd/system/eddy.service"
grep -qx 'ExecStart=/usr/bin/eddy serve --config /etc/eddy/eddy.yaml --data-dir /var/lib/eddy' "$unit" ||
  fail "the unit's ExecStart is not eddy serve with /etc/eddy/eddy.yaml and /var/lib/eddy" "$unit"
# verify checks that ExecStart's binary exists, so it reads a copy naming the extracted one (same
# file name: the unit's name comes from it). It exits 0 on unknown keys and bad values, which it
# only prints: any output fails.
mkdir "$tmp/verify"
sed "s|^ExecStart=/usr/bin/eddy |ExecStart=$tmp/extracted/usr/bin/eddy |" "$unit" >"$tmp/verify/eddy.service"
if ! systemd-analyze verify --man=no "$tmp/verify/eddy.service" >"$tmp/log" 2>&1 || [ -s "$tmp/log" ]; then
  fail "systemd-analyze verify eddy.service" "$tmp/log"
fi
# The hardening as systemd scores it (0 = locked down, 100 = none; 3.6 when written): a removed
# setting shows here.
if systemd-analyze --help 2>/dev/null | grep -q -- '--threshold'; then
  systemd-analyze security --offline=yes --threshold=45 --no-pager "$tmp/verify/eddy.service" >"$tmp/log" 2>&1 ||
    fail "systemd-analyze security: exposure above 4.5" "$tmp/log"
fi

# Depends names the package of every library the binary links (dpkg-shlibdeps or the list in
# cmake/Packaging.cmake).
if command -v readelf >/dev/null 2>&1; then
  bin="$tmp/extracted/usr/bin/eddy"
  ldd "$bin" >"$tmp/ldd" 2>&1 || fail "ldd $bin" "$tmp/ldd"
  readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$tmp/needed"
  [ -s "$tmp/needed" ] || fail "readelf found no NEEDED entry in $bin"
  while read -r soname; do
    path="$(awk -v s="$soname" '$1 == s && $2 == "=>" {print $3}' "$tmp/ldd")"
    [ -n "$path" ] || fail "ldd does not resolve $soname" "$tmp/ldd"
    owner=""
    for p in "$path" "$(readlink -f "$path")" "/usr${path#/usr}" "${path#/usr}"; do
      owner="$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1)" && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || continue  # a library no package owns (built locally): nothing to depend on
    grep -qx "$owner" "$tmp/depends" || fail "Depends lacks $owner (for $soname): $depends"
  done <"$tmp/needed"
fi

# -------------------------------------------------------------------------- dpkg into a scratch root
# An empty dpkg database and a passwd with root only. --force-depends: the libraries are this
# machine's, not the scratch root's. DPKG_ROOT tells the maintainer scripts where the root is.
root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers" "$root/etc"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
printf 'root:*::\n' >"$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
dpkg_root() {
  run "dpkg --root $*" dpkg --root="$root" --force-not-root --force-script-chrootless --force-depends \
    --log="$tmp/dpkg.log" "$@"
}
host_had_eddy=no
getent passwd eddy >/dev/null 2>&1 && host_had_eddy=yes

dpkg_root --install "$deb"
inst_status="$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' eddy 2>/dev/null || true)"
[ "$inst_status" = "install ok installed" ] || fail "dpkg status of eddy in the scratch root: $inst_status" "$tmp/dpkg.log"
[ -x "$root/usr/bin/eddy" ] || fail "no $root/usr/bin/eddy after dpkg --install"
[ -f "$root/lib/systemd/system/eddy.service" ] || fail "no unit in the scratch root"
# postinst: the system user, in the scratch root only.
user_line="$(grep '^eddy:' "$root/etc/passwd" || true)"
[ -n "$user_line" ] || fail "postinst made no user eddy in the scratch root" "$root/etc/passwd"
IFS=: read -r _ _ uid gid _ home shell <<<"$user_line"
[ "$uid" -lt 1000 ] || fail "eddy is not a system user (uid $uid)"
if [ "$home" != /var/lib/eddy ] || [ "$shell" != /usr/sbin/nologin ]; then fail "eddy's home or shell: $user_line"; fi
grep -q "^eddy:x:$gid:" "$root/etc/group" || fail "no group eddy with gid $gid" "$root/etc/group"
if [ "$host_had_eddy" = no ] && getent passwd eddy >/dev/null 2>&1; then
  fail "postinst made the user eddy on this machine instead of the scratch root"
fi
# postinst: the configuration readable by root and the eddy group only.
[ "$(stat -c '%u:%g %a' "$root/etc/eddy/eddy.yaml")" = "0:$gid 640" ] ||
  fail "/etc/eddy/eddy.yaml is $(stat -c '%u:%g %a' "$root/etc/eddy/eddy.yaml"), expected 0:$gid 640"
# postinst: enabled (deb-systemd-helper, in the root); never started (no systemd there).
[ -L "$root/etc/systemd/system/multi-user.target.wants/eddy.service" ] ||
  fail "eddy.service not enabled in the scratch root" "$tmp/dpkg.log"
# Reinstalling (an upgrade to the same version) keeps the user and passes again.
dpkg_root --install "$deb"
[ "$(grep -c '^eddy:' "$root/etc/passwd")" = 1 ] || fail "a second install made the user again" "$root/etc/passwd"

# ------------------------------------------------------------------------- the installed binary runs
out="$(timeout 10 "$root/usr/bin/eddy" --version 2>&1)" || fail "eddy --version: $out"
case "$out" in
  "eddy $version" | "eddy $version "*) ;;
  *) fail "eddy --version printed '$out', expected 'eddy $version'" ;;
esac

serve_args=(serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data")
# The packaged configuration too, once `eddy serve` reads one (the command line wins over it).
if timeout 10 "$root/usr/bin/eddy" serve --help 2>/dev/null | grep -q -- '--config'; then
  serve_args+=(--config "$root/etc/eddy/eddy.yaml")
fi
"$root/usr/bin/eddy" "${serve_args[@]}" </dev/null >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do  # 20 s
  grep -q 'listening on http://127\.0\.0\.1:[1-9]' "$tmp/serve.log" && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'listening on http://127\.0\.0\.1:[1-9]' "$tmp/serve.log" || fail "eddy serve did not listen within 20 s" "$tmp/serve.log"
port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/serve.log" | head -1)"
if command -v curl >/dev/null 2>&1; then
  health="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/health" 2>&1 || true)"
  [ "$health" = 200 ] || fail "GET /health answered $health" "$tmp/serve.log"
fi
kill -TERM "$server_pid"
for _ in $(seq 100); do  # 10 s
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  fail "eddy serve still running 10 s after SIGTERM" "$tmp/serve.log"
fi
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[ "$rc" = 0 ] || fail "eddy serve exited $rc after SIGTERM" "$tmp/serve.log"

# ------------------------------------------------------------------------------- remove, then purge
mkdir -p "$root/var/lib/eddy/streams"
touch "$root/var/lib/eddy/streams/marker"
dpkg_root --remove eddy
if [ -e "$root/usr/bin/eddy" ] || [ -e "$root/lib/systemd/system/eddy.service" ]; then fail "remove left the binary or the unit"; fi
[ -f "$root/var/lib/eddy/streams/marker" ] || fail "remove deleted the data in /var/lib/eddy"
[ -f "$root/etc/eddy/eddy.yaml" ] || fail "remove deleted the conffile"
dpkg_root --purge eddy
[ ! -e "$root/var/lib/eddy" ] || fail "purge left /var/lib/eddy"
[ ! -e "$root/etc/eddy" ] || fail "purge left /etc/eddy"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/eddy.service" ] || fail "purge left the unit enabled"

echo "test_package: ok ($(basename "$deb"), $(wc -l <"$tmp/depends") dependencies)"
