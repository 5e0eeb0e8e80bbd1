#!/usr/bin/env bash
# make format: clang-format (the version .clang-format was written for) over the lines of C files
# this branch changed since BASE - by default where it left main - never over the whole tree.
#   scripts/format.sh          formats those lines in the working tree (review them: git diff)
#   scripts/format.sh --diff   prints what it would change, changes nothing
# FORMAT_BASE=<commit> sets BASE.
#
# Why only the changed lines: the tree is formatted by hand in the style .clang-format describes
# as closely as clang-format can, and clang-format over all of it would still change about 9 %
# of its lines (hand-wrapped argument lists, packed enums, format strings split next to their
# arguments: .clang-format has the figures), in every file the other engineers are changing.
# For the same reason there is no format check in `make test`: even on changed lines
# clang-format asks for what the tree's own
# idioms do differently (a help text's SKY__AWS_OPTS_HELP on its own line, a packed enum of
# option codes), so such a check would fail on code written in the house style. `--diff` is the
# advice; the reviewer decides.
set -euo pipefail
cd "$(dirname "$0")/.."

cf=$(command -v clang-format-14 || true)
gcf=$(command -v git-clang-format-14 || command -v git-clang-format || true)
if [ -z "$cf" ] || [ -z "$gcf" ]; then
  echo "format: clang-format-14 (and its git-clang-format) is not installed: nothing formatted" \
       "(scripts/deps.sh --format installs it)" >&2
  exit 1
fi
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "format: not a git checkout: no changed lines to format" >&2
  exit 1
fi
base=${FORMAT_BASE:-}
if [ -z "$base" ]; then
  for b in main origin/main; do
    if git rev-parse -q --verify "$b^{commit}" >/dev/null; then
      base=$(git merge-base HEAD "$b")
      break
    fi
  done
fi
if [ -z "$base" ]; then
  echo "format: no main branch to compare with: set FORMAT_BASE=<commit>" >&2
  exit 1
fi
mode=()
[ "${1:-}" = "--diff" ] && mode=(--diff)
# --force: also lines changed but not staged; the extensions: C only (git-clang-format's
# default list would take other languages' files too)
exec "$gcf" --binary "$cf" --extensions c,h --force "${mode[@]}" "$base" -- '*.c' '*.h'
