#!/usr/bin/env bash
# The CloudWatch part of `make demo`: start `skylog serve` on a free loopback port in a
# temporary directory, run examples/cloudwatch.c against it (requests with context, errors
# with fields, a burst of 100,000 events), read the result back with `skylog tail`, check that
# what was sent is what was stored, and stop the server.
set -euo pipefail
build=${1:-build/release}
skylog="$build/skylog"
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

export AWS_ACCESS_KEY_ID=skylog-demo AWS_SECRET_ACCESS_KEY=skylog-demo-secret AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$skylog" serve --port 0 --data "$work/data" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" >"$work/url" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.05; done
url=$(head -n1 "$work/url")
[ -n "$url" ] || { echo "demo: skylog serve did not start:"; cat "$work/serve.log"; exit 1; }
export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="$url"
say "skylog serve is listening on $url (SigV4 required, SQLite in $work/data)"

group=/demo/shop
say "example service: 18 request events with context, 1 error, and a burst of 100,000 events"
start=$(date +%s.%N)
"$build/example_cloudwatch" "$group" 100000 | tee "$work/stats"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "(%.2f s, including the flush)\n", e - s }'

say "skylog tail --group $group --filter '{ \$.level = \"ERROR\" }'"
"$skylog" tail --group "$group" --since 1h --filter '{ $.level = "ERROR" }' --output pretty

say "the requests of req-0004, from the stored JSON events"
"$skylog" tail --group "$group" --since 1h --filter '{ $.request_id = "req-0004" }' --output pretty

say "skylog groups / skylog streams"
"$skylog" groups
"$skylog" streams --group "$group"

sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$work/stats")
stored=$("$skylog" tail --group "$group" --since 1h --output raw | wc -l)
say "summary: sent $sent, stored $stored"
if [ "$sent" = "$stored" ] && [ "$sent" -gt 100000 ]; then
  echo "every event sent was stored exactly once"
else
  echo "MISMATCH: sent $sent, stored $stored"; exit 1
fi
