#!/usr/bin/env bash
# Follow the logs of every function of a stage, interleaved, each line prefixed with [function].
#
#   monitor_all_logs.sh --stage dev [--since 10m] [--region R] [--profile P] [--endpoint-url URL]  # CloudWatch
#   monitor_all_logs.sh --local [--since 10m] [--lines 20] [--log-dir DIR]    # the local runtime's files
#
# Other options: --functions "websocket_message chat_processor" (default: all four), --no-follow,
# --app NAME (default shopping-assistant-api), --message MESSAGE_ID and --session SESSION_ID (only
# the lines that carry that id; both: lines with both). Ctrl-C stops every follower.
# CloudWatch is read with the AWS CLI: `aws logs tail` with v2; with v1 (the one `make install`
# puts in .venv/bin, used when no `aws` is on PATH) `aws logs filter-log-events`, every 2 s.
# --endpoint-url reads an emulated region (make cloud) the same way.
# Against AWS the log groups are /aws/lambda/<app>-<stage>-<function>; the local runtime
# (make run, stage "local") writes one JSON-lines file per function under logs/, named after
# the log group: logs/aws-lambda-<app>-<stage>-<function>.jsonl.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
app=shopping-assistant-api
functions="websocket_connect websocket_message websocket_disconnect chat_processor"
stage="" since="" region="" profile="" endpoint="" local=0 follow=1 lines=20
terms=()  # --message / --session ids a line must carry
logs_dir="$(dirname "$(dirname "$here")")/logs"

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=${2:?--stage needs a value}; shift 2 ;;
    --since) since=${2:?--since needs a value, e.g. 10m}; shift 2 ;;
    --region) region=${2:?}; shift 2 ;;
    --profile) profile=${2:?}; shift 2 ;;
    --endpoint-url) endpoint=${2:?--endpoint-url needs a URL}; shift 2 ;;
    --functions) functions=${2:?}; shift 2 ;;
    --app) app=${2:?}; shift 2 ;;
    --local) local=1; shift ;;
    --log-dir|--logs-dir) logs_dir=${2:?}; shift 2 ;;
    --lines) lines=${2:?}; shift 2 ;;
    --no-follow) follow=0; shift ;;
    --message) terms+=("${2:?--message needs a message id}"); shift 2 ;;
    --session) terms+=("${2:?--session needs a session id}"); shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done

# Each follower runs in its own process group (set -m), so stopping one group stops its
# whole pipeline (tail | awk, aws | sed); Ctrl-C or TERM stops them all.
set -m
stop() {
  trap - EXIT INT TERM
  for pid in $(jobs -p); do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

# --since 30s|10m|2h|1d -> epoch milliseconds (for the local files' "timestamp").
since_ms() {
  local amount=${1%[smhd]} unit=${1##*[0-9]} seconds
  [[ "$amount" =~ ^[0-9]+$ ]] || die "--since takes a number and s, m, h or d, e.g. 10m (got $1)"
  case "$unit" in s) seconds=1 ;; m) seconds=60 ;; h) seconds=3600 ;; d) seconds=86400 ;; *) die "--since $1: use s, m, h or d" ;; esac
  echo $(( ($(date +%s) - amount * seconds) * 1000 ))
}

# CloudWatch Logs filter pattern: each id a quoted term (ids have "-"), all of them required.
filter_pattern() {
  local term pattern=""
  for term in "${terms[@]}"; do pattern+="${pattern:+ }\"$term\""; done
  printf '%s' "$pattern"
}

# Whether a local line carries every id as a JSON string value: "id" at the top level, or
# \"id\" inside the app's JSON that the local files keep as the "message" string.
carries_terms() {
  local line=$1 term q='"' bq='\"'
  for term in ${terms[@]+"${terms[@]}"}; do
    [[ "$line" == *"$q$term$q"* || "$line" == *"$bq$term$bq"* ]] || return 1
  done
}

# --region, --profile and --endpoint-url, as given.
where_args() {
  [ -n "$region" ] && printf '%s\0' --region "$region"
  [ -n "$profile" ] && printf '%s\0' --profile "$profile"
  [ -n "$endpoint" ] && printf '%s\0' --endpoint-url "$endpoint"
  return 0
}

follow_cloudwatch() {
  local fn=$1 group="/aws/lambda/$app-$stage-$1" where
  mapfile -d '' where < <(where_args)
  local args=(logs tail "$group" --format short --since "${since:-10m}" ${where[@]+"${where[@]}"})
  [ "$follow" -eq 1 ] && args+=(--follow)
  [ ${#terms[@]} -gt 0 ] && args+=(--filter-pattern "$(filter_pattern)")
  "$aws" "${args[@]}" 2>&1 | sed -u "s/^/[$fn] /"
}

# AWS CLI v1 has no `logs tail`: ask filter-log-events for what came after the last event seen.
follow_cloudwatch_v1() {
  local fn=$1 group="/aws/lambda/$app-$stage-$1" start where out
  start=$(since_ms "${since:-10m}")
  mapfile -d '' where < <(where_args)
  while :; do
    local args=(logs filter-log-events --log-group-name "$group" --start-time "$start" --output json ${where[@]+"${where[@]}"})
    [ ${#terms[@]} -gt 0 ] && args+=(--filter-pattern "$(filter_pattern)")
    if out=$("$aws" "${args[@]}" 2>&1); then
      out=$(printf '%s' "$out" | "$python" -c "$print_events" "$fn") || return 1
      if [ -n "$out" ]; then
        printf '%s\n' "${out%$'\n'*}"
        start=$(( ${out##*$'\n'} + 1 ))
      fi
    elif [[ "$out" != *ResourceNotFoundException* ]]; then  # the group appears with the first log line
      printf '[%s] %s\n' "$fn" "$out"
      return 1
    fi
    [ "$follow" -eq 1 ] || return 0
    sleep 2
  done
}

# filter-log-events JSON -> "[fn] message" lines, then the last event's timestamp on a line of its own.
print_events='
import json, sys
events = json.load(sys.stdin).get("events", [])
for event in events:
    print("[%s] %s" % (sys.argv[1], event["message"].rstrip("\n")))
print(max([event["timestamp"] for event in events], default=""))
'

follow_file() {
  local fn=$1 file=$2 min_ms=$3 start=$lines line
  [ "$min_ms" -gt 0 ] && start=+1  # with --since: read the whole file, keep the recent lines
  local args=(-n "$start")
  if [ "$follow" -eq 1 ]; then args+=(-F); elif [ ! -f "$file" ]; then return 0; fi
  # A shell loop, not awk: mawk buffers its input and would sit on new lines.
  tail "${args[@]}" "$file" 2>/dev/null | while IFS= read -r line; do
    if [ "$min_ms" -gt 0 ] && [[ "$line" =~ \"timestamp\":\ *([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -lt "$min_ms" ]; then
      continue
    fi
    [ ${#terms[@]} -eq 0 ] || carries_terms "$line" || continue
    printf '[%s] %s\n' "$fn" "$line"
  done
}

if [ "$local" -eq 1 ]; then
  stage=${stage:-local}
  min_ms=0
  [ -n "$since" ] && min_ms=$(since_ms "$since")
  [ -d "$logs_dir" ] || [ "$follow" -eq 1 ] || die "no $logs_dir: start the local runtime with make run"
  echo "following $(echo "$functions" | wc -w) local log files in $logs_dir (stage $stage)" >&2
  for fn in $functions; do
    follow_file "$fn" "$logs_dir/aws-lambda-$app-$stage-$fn.jsonl" "$min_ms" &
  done
else
  [ -n "$stage" ] || die "--stage is required (or --local for the local runtime)"
  [ -n "$since" ] && since_ms "$since" >/dev/null
  venv_bin="$(dirname "$(dirname "$here")")/.venv/bin"
  aws=$(command -v aws || true)
  [ -n "$aws" ] || [ ! -x "$venv_bin/aws" ] || aws="$venv_bin/aws"
  [ -n "$aws" ] || die "no AWS CLI: run make install (it puts one in .venv/bin), or use --local"
  cli=$("$aws" --version 2>&1 || true)
  follower=follow_cloudwatch
  case "$cli" in
    aws-cli/2.*) ;;
    aws-cli/1.*)
      follower=follow_cloudwatch_v1
      python=$(head -n 1 "$aws" | sed -n 's/^#!\([^ ]*python[^ ]*\).*/\1/p')
      [ -x "${python:-}" ] || python=$(command -v python3) || die "the AWS CLI v1 needs python3" ;;
    *) die "not an AWS CLI: $aws --version says ${cli%% *}" ;;
  esac
  echo "following /aws/lambda/$app-$stage-{$(echo $functions | tr ' ' ',')} with ${cli%% *}" >&2
  for fn in $functions; do
    "$follower" "$fn" &
  done
fi
wait
