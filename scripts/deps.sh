#!/usr/bin/env bash
# Installs the Debian packages skylog needs to build and test, and only the missing ones.
# Idempotent: when everything is present it does nothing and needs no network or root.
set -euo pipefail

# libcurl4-openssl-dev is for curl's headers only (libskylog dlopen()s libcurl at run time); it
# depends on libcurl4, the runtime the network sinks and the tests load.
need=(cmake make gcc g++ pkg-config
      libcurl4-openssl-dev libssl-dev zlib1g-dev libsqlite3-dev libmicrohttpd-dev
      libyaml-dev libjansson-dev libcmocka-dev
      libpcre2-dev  # Logs Insights regexes in skylog serve (Java-like: named groups)
      zsh groff-base)  # the CLI docs test checks the zsh completion and the man pages
# Optional extras: benchmarks compare against spdlog; sanitizer builds want clang's runtime.
case "${1:-}" in
  --bench) need+=(libspdlog-dev valgrind) ;;
  --clang) need+=(clang) ;;
  --fuzz)  need+=(clang libclang-rt-14-dev) ;; # libFuzzer's runtime is in libclang-rt
  --format) need+=(clang-format-14) ;; # make format: the version .clang-format was written for
  --all)   need+=(libspdlog-dev valgrind clang libclang-rt-14-dev clang-format-14) ;;
esac

missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent on a fresh machine; update once, then install by name.
if ! $sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}"
fi
