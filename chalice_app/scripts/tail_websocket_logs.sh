#!/usr/bin/env bash
# Follow the WebSocket functions' logs ($connect, messages, $disconnect), interleaved and prefixed.
#
#   tail_websocket_logs.sh --stage dev [--since 10m] [--region R] [--profile P]   # CloudWatch
#   tail_websocket_logs.sh --local [--since 10m]                                  # the local runtime's logs/
#
#   tail_websocket_logs.sh --local --message MESSAGE_ID   # only that message's lines (--session SESSION_ID too)
#
# Same options as monitor_all_logs.sh, which also follows chat_processor.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case "${1:-}" in -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
exec "$here/monitor_all_logs.sh" --functions "websocket_connect websocket_message websocket_disconnect" "$@"
