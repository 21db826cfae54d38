#!/usr/bin/env bash
# The real binary at the guardrail: one sandbox with 100 Destinations × 250 audiences, applied,
# then `destctl plan` with nothing to change (default text output), alternated with fetching
# the same destination-flow pages with curl. Reports the plan's peak RSS (`/usr/bin/time -v`,
# "Maximum resident set size") and the walls of both, medians over the runs, in one run.
#
# The emulator runs as its own process (`destctl emulator`), so the plan's RSS is the plan's
# alone; plan reaches it with `--endpoint` and the emulator's client credentials (env).
#
# Usage: benches/real_binary.sh [DESTCTL_BINARY] [RUNS]
#   DESTCTL_BINARY  default target/release/destctl (build it with `cargo build --release`)
#   RUNS            alternated plan/curl pairs, default 7
# Needs: bash, curl, jq, python3, /usr/bin/time. Uses a temp dir and a free loopback port.
set -euo pipefail

BIN=${1:-target/release/destctl}
RUNS=${2:-7}
BIN=$(realpath "$BIN")
FLOWS=100
AUDIENCES=250
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=http://127.0.0.1:$PORT
FS=$B/data/foundation/flowservice

cleanup() {
    [[ -n ${EMU_PID:-} ]] && kill "$EMU_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Manifests: FLOWS Amazon S3 Destinations, AUDIENCES audiences each activated on all of them.
python3 - "$WORK/manifests" "$FLOWS" "$AUDIENCES" <<'EOF'
import os, sys
out, flows, audiences = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
with open(f"{out}/destinations.yaml", "w") as f:
    for i in range(flows):
        f.write(f"""---
apiVersion: destctl/v1
kind: Destination
metadata:
  name: dest-{i:03}
spec:
  displayName: Destination {i:03}
  platform: amazon-s3-legacy
  connection:
    auth: Access Key
    params:
      s3AccessKey: ${{env:BENCH_S3_KEY}}
      s3SecretKey: ${{env:BENCH_S3_SECRET}}
  location:
    mode: S3
    bucketName: bench-exports
    path: /dest-{i:03}
  attributes:
    - person.name.firstName
    - personalEmail.address
""")
with open(f"{out}/schedules.yaml", "w") as f:
    f.write("""---
apiVersion: destctl/v1
kind: Schedule
metadata:
  name: daily-17h
spec:
  exportMode: DAILY_FULL_EXPORT
  frequency: DAILY
  triggerType: SCHEDULED
  startDate: 2026-01-01
  startTime: "17:00"
""")
with open(f"{out}/audiences.yaml", "w") as f:
    for j in range(audiences):
        f.write(f"""---
apiVersion: destctl/v1
kind: Audience
metadata:
  name: audience-{j:03}
spec:
  segmentId: 00000000-0000-4000-8000-{j:012}
  displayName: Audience {j:03} with a reasonably long display name
  activations:
""")
        for i in range(flows):
            f.write(f"    - destination: dest-{i:03}\n      schedule: daily-17h\n")
EOF

export BENCH_S3_KEY=AKIAIOSFODNN7EXAMPLE BENCH_S3_SECRET=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY00
export DESTCTL_ENDPOINT=$B AEP_CLIENT_ID=destctl-emulator AEP_CLIENT_SECRET=any-secret
export AEP_ORG_ID=0000000000000000DE57C711@AdobeOrg AEP_SANDBOX=prod NO_COLOR=1

"$BIN" emulator --listen "127.0.0.1:$PORT" >"$WORK/emulator.log" 2>&1 &
EMU_PID=$!
for _ in $(seq 100); do curl -sf "$B/_emulator/requests" >/dev/null && break; sleep 0.1; done

echo "seeding: apply $FLOWS Destinations x $AUDIENCES audiences…" >&2
(cd "$WORK" && "$BIN" apply manifests --auto-approve >"$WORK/apply.log" 2>&1) ||
    { grep -m5 -i "error\|✗\|failed:" "$WORK/apply.log" >&2; exit 1; }

TOKEN=$(curl -sf -X POST "$B/ims/token/v3" -d grant_type=client_credentials \
    -d client_id=$AEP_CLIENT_ID -d client_secret=$AEP_CLIENT_SECRET | jq -r .access_token)
H=(-H "Authorization: Bearer $TOKEN" -H "x-api-key: $AEP_CLIENT_ID"
   -H "x-gw-ims-org-id: $AEP_ORG_ID" -H "x-sandbox-name: prod")

# The destination-flow pages, as `destctl plan` lists them (limit=100, following
# _links.next), each to /dev/null.
curl_pages() {
    local url="$FS/flows?property=inheritedAttributes.properties.isDestinationFlow%3D%3Dtrue&limit=100"
    while [[ -n $url ]]; do
        local next
        next=$(curl -sf "${H[@]}" "$url" | jq -r '._links.next.href // empty')
        if [[ -n $next ]]; then url="$FS/flows${next#*/flows}"; else url=""; fi
    done
}

PAGE_BYTES=$(curl -sf "${H[@]}" -o /dev/null -w '%{size_download}' \
    "$FS/flows?property=inheritedAttributes.properties.isDestinationFlow%3D%3Dtrue&limit=100")

now() { date +%s.%N; }
plan_walls=() curl_walls=() rss=()
for r in $(seq "$RUNS"); do
    t0=$(now)
    set +e
    (cd "$WORK" && /usr/bin/time -v "$BIN" plan manifests --detailed-exitcode \
        >"$WORK/plan.txt" 2>"$WORK/plan.err")
    code=$?
    set -e
    t1=$(now)
    [[ $code == 0 ]] || { echo "plan exited $code (expected 0: no changes)" >&2; cat "$WORK/plan.err" >&2; exit 1; }
    t2=$(now)
    curl_pages
    t3=$(now)
    plan_walls+=("$(echo "$t1 - $t0" | bc)")
    curl_walls+=("$(echo "$t3 - $t2" | bc)")
    rss+=("$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/plan.err")")
    echo "run $r: plan ${plan_walls[-1]} s, curl ${curl_walls[-1]} s, plan peak RSS ${rss[-1]} kB" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
PW=$(median "${plan_walls[@]}")
CW=$(median "${curl_walls[@]}")
RSS=$(median "${rss[@]}")
MAXRSS=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
echo "binary: $BIN"
echo "plan output: $(head -c 200 "$WORK/plan.txt" | tr '\n' ' ')"
echo "runs: $RUNS (alternated), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "flow page: $((PAGE_BYTES / 1024)) KiB"
echo "plan wall, median: $PW s"
echo "curl flow pages wall, median: $CW s"
echo "ratio plan / curl (medians): $(echo "scale=2; $PW / $CW" | bc)"
echo "plan peak RSS, median / max: $((RSS / 1024)) / $((MAXRSS / 1024)) MB"
