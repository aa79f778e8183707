#!/bin/sh
# Pin a tag for a project, then wait until every node serving the project holds its digest.
# Needs only curl and a POSIX shell (no jq): a CI step can run it as is.
#
#   CIDER_SERVER=https://fleet.example.com CIDER_TOKEN=cat_... \
#     ./pin-and-wait.sh <project> <registry/repository:tag> [timeout-seconds]
#
# Exit status, as `cider fleet pins set --wait`: 0 converged; 1 the server could not be reached;
# 2 usage; 3 the pin or the token was refused (the API's error is printed); 4 some node's sync
# failed (the failures are printed); 5 timed out (the rollout goes on).
set -eu

if [ $# -lt 2 ] || [ -z "${CIDER_SERVER:-}" ] || [ -z "${CIDER_TOKEN:-}" ]; then
  echo "usage: CIDER_SERVER=... CIDER_TOKEN=cat_... $0 <project> <registry/repository:tag> [timeout-seconds]" >&2
  exit 2
fi
project=$1
reference=$2
timeout=${3:-3600}
interval=${CIDER_POLL_SECONDS:-10}
case $reference in *'"'* | *'\'*) echo "The reference may not contain quotes or backslashes: $reference" >&2; exit 2 ;; esac

api="${CIDER_SERVER%/}/api/v1"
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# POST the pin: the server resolves the tag to a digest now and starts the rollout.
status=$(curl -sS -o "$body" -w '%{http_code}' -X POST "$api/projects/$project/pins" \
  -H "Authorization: Bearer $CIDER_TOKEN" -H 'Content-Type: application/json' \
  --data "{\"reference\":\"$reference\",\"mode\":\"follow\"}") || {
  echo "Cannot reach $CIDER_SERVER; nothing was pinned." >&2
  exit 1
}
if [ "$status" != 201 ]; then
  echo "Pinning $reference in $project was refused (HTTP $status):" >&2
  cat "$body" >&2; echo >&2
  exit 3
fi
digest=$(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$body")
echo "Pinned $reference in $project at $digest; waiting for the rollout."

# field NAME: a number or string field of the rollout summary (compact JSON, one line).
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([a-z0-9-]*\).*/\1/p" "$body"; }

start=$(date +%s)
while :; do
  # A network blip is not the end: 000 and keep polling until the timeout.
  status=$(curl -sS -o "$body" -w '%{http_code}' "$api/projects/$project/rollout" -H "Authorization: Bearer $CIDER_TOKEN") || status=000
  if [ "$status" = 200 ]; then
    state=$(field state)
    echo "$(date -u +%H:%M:%S) $state: $(field inSync)/$(field serving) nodes in sync, $(field fetching) fetching, $(field waiting) waiting, $(field failed) failed"
    case $state in
      converged) exit 0 ;;
      failing)
        echo "Failed nodes (node, reference, error):" >&2
        sed 's/.*"failures":\[//' "$body" | tr '}' '\n' |
          sed -n 's/.*"nodeName":"\([^"]*\)","reference":"\([^"]*\)","error":\(.*\)/  \1  \2  \3/p' >&2
        exit 4 ;;
    esac
  elif [ "$status" = 401 ] || [ "$status" = 403 ]; then
    echo "The token was refused while waiting (HTTP $status): $(cat "$body")" >&2
    exit 3
  else
    # 503 and friends: the server says when to retry; keep polling until the timeout.
    echo "Rollout status: HTTP $status $(cat "$body")" >&2
  fi
  if [ $(( $(date +%s) - start )) -ge "$timeout" ]; then
    echo "Timed out after ${timeout}s; the rollout goes on (last answer: HTTP $status)." >&2
    exit 5
  fi
  sleep "$interval"
done
