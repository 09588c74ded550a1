#!/usr/bin/env bash
# Installs every Debian and npm package the build, the demo and the tests need. Safe to rerun:
# it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(cmake ninja-build g++ pkg-config libboost-dev libsimdjson-dev nlohmann-json3-dev
  libcli11-dev libexpected-dev libssl-dev zlib1g-dev libgtest-dev libgmock-dev
  libbenchmark-dev libnghttp2-dev libre2-dev libicu-dev libcurl4-openssl-dev libyaml-cpp-dev libjemalloc-dev python3-cbor2 curl
  ccache clang-format nats-server libnats-dev  # cluster mode: JetStream servers for the tests, the C client
  chromium  # chromium: the dashboard's end-to-end test drives it headless (playwright-core)
  prometheus  # promtool and a Prometheus server for the monitoring tests (test_prometheus)
  dpkg-dev systemd)  # make package: dpkg-shlibdeps computes its Depends; the package test runs systemd-analyze verify

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# The machine's Python must have boto3 and the AWS CLI; Debian's packages stand in if not.
python3 -c "import boto3" 2>/dev/null || missing+=(python3-boto3)
command -v aws >/dev/null 2>&1 || missing+=(awscli)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages (test clients, benchmark peer, the dashboard's uPlot, which the C++ build embeds),
# pinned by package-lock.json.
stamp=node_modules/.eddy-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
echo "deps: ok"
