#!/usr/bin/env bash
# check_layers.sh - the layering guard: fails when a file reaches a layer above its own.
#
# A folder is a layer (docs/ARCHITECTURE.md, "Layers"). The table below is the one statement of
# which layers each may use; ARCHITECTURE.md mirrors it (checked: 3.). Checks:
#   1. includes: every `#include "<layer>/..."` in src/<layer>/, cli/ and server/ (headers too)
#      must name the file's own layer or one it may use;
#   2. calls (when the library's object directory is given): every symbol an object of
#      src/<layer>/ takes from another layer's object (nm) must come from a layer it may use.
#      This catches a call up through a declaration written by hand, with no include.
#   3. docs/ARCHITECTURE.md's layer table equals the table below, and its map (--map's output)
#      is current: the same include edges, every cross-layer call listed.
# Public headers (include/) are everyone's and are not checked; the symbols their inline code
# uses are checked (2.) but left out of the map.
#
# Usage: scripts/check_layers.sh [--map] [SOURCE_DIR [OBJECT_DIR]]
#   OBJECT_DIR: <build>/CMakeFiles/skylog_obj.dir (ctest passes it: tests/CMakeLists.txt)
#   --map: also print every edge between layers (who includes whom, who calls what of whom),
#          the map in docs/ARCHITECTURE.md
# Exit 0: clean; 1: a violation (each printed); 2: usage or a folder missing from the table.
set -euo pipefail

MAP=0
if [ "${1:-}" = --map ]; then
    MAP=1
    shift
fi

# layer       the layers it may use (besides itself)
ALLOWED='
util
queue       util
core        util queue
metrics     util core
trace       util core metrics
encode      util core
processors  util core metrics
aws         util core
sinks       util queue core metrics trace encode processors aws
config      util queue core metrics trace encode processors aws sinks
cli         util queue core metrics trace encode processors aws sinks config
server      util aws
'

SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)}
OBJ=${2:-}
cd "$SRC"

declare -A may
while read -r layer deps; do
    [ -n "$layer" ] && may[$layer]=" $layer $deps "
done <<< "$ALLOWED"

allowed() { [[ ${may[$1]} == *" $2 "* ]]; }

bad=0
declare -A inc_edge call_edge
for d in src/*/; do
    l=$(basename "$d")
    if [ -z "${may[$l]+x}" ]; then
        echo "check_layers: src/$l/ is not in the table of scripts/check_layers.sh: add it" >&2
        exit 2
    fi
done

# 1. includes
while IFS=: read -r file line text; do
    case $file in
    src/*) own=${file#src/}; own=${own%%/*} ;;
    cli/*) own=cli ;;
    server/*) own=server ;;
    esac
    [[ $text =~ \#[[:space:]]*include[[:space:]]*\"(\.\./)*([a-z_]+)/ ]] || continue
    target=${BASH_REMATCH[2]}
    [ -n "${may[$target]+x}" ] || continue # a folder that is no layer (a program's own)
    [ "$own" = "$target" ] && continue
    [[ ${inc_edge["$own $target"]:-} == *" $file"* ]] || inc_edge["$own $target"]+=" $file"
    if ! allowed "$own" "$target"; then
        echo "$file:$line: $own includes $target (above it): ${text#"${text%%[![:space:]]*}"}"
        bad=1
    fi
done < <(grep -rn --include='*.c' --include='*.h' -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' \
             src cli server)

# 2. calls, from the objects
if [ -n "$OBJ" ]; then
    if [ ! -d "$OBJ/src" ]; then
        echo "check_layers: no objects under $OBJ/src (build skylog_obj first)" >&2
        exit 2
    fi
    tab=$(mktemp)
    trap 'rm -f "$tab"' EXIT
    objs=()
    for o in "$OBJ"/src/*/*.o; do
        rel=${o#"$OBJ"/}
        [ -f "${rel%.o}" ] && objs+=("$o") # not an object whose source was moved away
    done
    # one nm for all: "<obj>: U sym" or "<obj>:<addr> T sym"
    nm -A "${objs[@]}" | awk -v pre="$OBJ/" '{
        split($1, p, ":"); f = substr(p[1], length(pre) + 1); sub(/\.o$/, "", f)
        l = f; sub(/^src\//, "", l); sub(/\/.*/, "", l)
        if ($2 == "U") print "U", l, f, $3
        else if (NF == 3 && $2 ~ /^[TDBRCVW]$/) print "D", l, f, $3 }' > "$tab"
    # what the public headers' inline code uses is everyone's (an inlined call site references
    # it from whichever object logs, and only in the builds that inline it): checked, not mapped
    declare -A pub
    while read -r s; do pub[$s]=1; done < <(grep -rohE '\bsky__[A-Za-z0-9_]+' include | sort -u)
    while read -r user file sym owner; do
        [ -n "${pub[$sym]+x}" ] ||
            [[ ${call_edge["$user $owner"]:-} == *" $sym "* ]] || call_edge["$user $owner"]+=" $sym "
        if ! allowed "$user" "$owner"; then
            echo "$file: $user calls $sym of $owner (above it)"
            bad=1
        fi
    done < <(awk '$1 == "D" { def[$4] = $2 } $1 == "U" { use[++n] = $2 " " $3 " " $4 }
                  END { for (i = 1; i <= n; i++) { split(use[i], u, " ")
                          if ((u[3] in def) && def[u[3]] != u[1]) print u[1], u[2], u[3], def[u[3]] } }' "$tab")
fi

# 3. docs/ARCHITECTURE.md, "Layers": its table is this one, and its map lists every include
# edge (exactly) and every function called across layers (a build may call fewer: an optimizer
# can drop a call, so a listed one this build does not call is not an error)
DOC=docs/ARCHITECTURE.md
if [ -f "$DOC" ]; then
    norm() { tr -s ' ,' '\n\n' | { grep -v '^-*$' || true; } | sort | tr '\n' ' '; }
    while IFS='|' read -r _ layer deps _; do
        layer=$(echo $layer)
        [ -n "${may[$layer]+x}" ] || continue
        want=$(echo ${may[$layer]} | tr ' ' '\n' | { grep -vx "$layer" || true; } | norm)
        have=$(echo "${deps%% (*}" | norm)
        if [ "$want" != "$have" ]; then
            echo "$DOC: layer table: $layer may use '${have% }' there, '${want% }' in scripts/check_layers.sh"
            bad=1
        fi
    done < <(sed -n '/^### Which layer may use which/,/^### /p' "$DOC" | grep '^| [a-z]* |')
    docmap=$(sed -n '/^### The map/,/^## /p' "$DOC")
    want=$(for k in "${!inc_edge[@]}"; do echo "  ${k/ / -> }:" $(printf '%s\n' ${inc_edge[$k]} | sort); done | sort)
    have=$(sed -n '/^includes (/,/^calls (/p' <<< "$docmap" | grep '^  ' | sort)
    if [ "$want" != "$have" ]; then
        echo "$DOC: the map's includes are stale (regenerate: scripts/check_layers.sh --map . OBJECT_DIR):"
        diff <(echo "$have") <(echo "$want") | grep '^[<>]' | sed 's/^</  doc:/; s/^>/  now:/' || true
        bad=1
    fi
    if [ -n "$OBJ" ]; then
        for k in "${!call_edge[@]}"; do
            line=$(sed -n '/^calls (/,/^```/p' <<< "$docmap" | grep -F "  ${k/ / -> }:" || true)
            for f in ${call_edge[$k]}; do
                if [[ " ${line#*:} " != *" $f "* ]]; then
                    echo "$DOC: the map does not list ${k/ / -> }: $f (regenerate: scripts/check_layers.sh --map . OBJECT_DIR)"
                    bad=1
                fi
            done
        done
    fi
fi

if [ "$MAP" -eq 1 ]; then
    echo "includes (layer -> layer it includes: files)"
    for k in "${!inc_edge[@]}"; do echo "  ${k/ / -> }:" $(printf '%s\n' ${inc_edge[$k]} | sort); done | sort
    echo "calls (layer -> layer whose functions it calls: functions)"
    for k in "${!call_edge[@]}"; do echo "  ${k/ / -> }:" $(printf '%s\n' ${call_edge[$k]} | sort); done | sort
fi

if [ "$bad" -ne 0 ]; then
    echo "check_layers: a layer reaches above itself, or docs/ARCHITECTURE.md's layers are stale (table: scripts/check_layers.sh)" >&2
    exit 1
fi
echo "check_layers: layers point down${OBJ:+ (includes and calls)}"
