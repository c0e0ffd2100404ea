#!/usr/bin/env bash
# npm start: Sluice on this machine. Installs what is missing and builds (ensure-deps.sh), starts a
# private redis-server with infra/redis/sluice.conf (data in .data/redis, AOF on) unless it already
# runs, then the ingest service in the foreground.
#
#   SLUICE_LOCAL_REDIS_PORT  the private Redis's port (default 6479, beside a system Redis on 6379)
#   SLUICE_REDIS_FSYNC       everysec (default) or always: the AOF fsync policy, told to Redis and ingest
#   SLUICE_HOST, SLUICE_PORT where the service listens (default 127.0.0.1:4600)
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/ensure-deps.sh

repo="$(pwd -P)" # physical: Redis reports its dir with symlinks resolved
redis_port="${SLUICE_LOCAL_REDIS_PORT:-6479}"
redis_dir="$repo/.data/redis"
redis_pidfile="$redis_dir/redis.pid"
redis_log="$redis_dir/redis.log"
fsync="${SLUICE_REDIS_FSYNC:-everysec}"
case "$fsync" in
  everysec | always) ;;
  *)
    say "SLUICE_REDIS_FSYNC must be everysec or always, not '$fsync'"
    exit 1
    ;;
esac
mkdir -p "$redis_dir"

redis_cli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@" 2>/dev/null; }
# The pid of the private Redis, if its pidfile names a live redis-server. After a kill -9 the pidfile
# stays behind: its process may be gone, a zombie nobody reaped, or its pid reused by another program.
private_redis_pid() {
  local pid stat
  pid="$(cat "$redis_pidfile" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    # "<pid> (<comm>) <state> …"
    [[ "$stat" == *"(redis-server"*")"* ]] || return 1
    [[ "${stat##*) }" != Z* ]] || return 1
  fi
  echo "$pid"
}

answer="$(redis_cli ping || true)"
started=""
if [ -z "$answer" ] && ! private_redis_pid >/dev/null; then
  log_offset=$(($(wc -c <"$redis_log" 2>/dev/null || echo 0) + 1))
  rm -f "$redis_pidfile" # stale: it would pass for the new server's before that one writes its own
  # The config file first, so the command line (address, directory, fsync) wins over it.
  redis-server "$repo/infra/redis/sluice.conf" \
    --bind 127.0.0.1 --port "$redis_port" --dir "$redis_dir" --appendfsync "$fsync" \
    --daemonize yes --pidfile "$redis_pidfile" --logfile "$redis_log"
  started=1
elif [ -z "$answer" ]; then
  say "waiting for the Redis already running (pid $(private_redis_pid)) to answer on 127.0.0.1:$redis_port…"
elif [ -n "$answer" ] && [ "$answer" != PONG ] && [[ "$answer" != LOADING* ]]; then
  say "something else answers on 127.0.0.1:$redis_port ($answer): stop it or choose another port with SLUICE_LOCAL_REDIS_PORT"
  exit 1
fi

# Ready means PONG: while Redis replays a large AOF it answers LOADING, which can take a while.
began=$SECONDS
deadline=$((SECONDS + 300))
until [ "$(redis_cli ping || true)" = PONG ]; do
  # Started but gone: the daemon writes its pidfile right after forking, so no live pid after a few
  # seconds means it exited (a bad setting, the port taken).
  if [ -n "$started" ] && ! private_redis_pid >/dev/null && { [ -f "$redis_pidfile" ] || [ $((SECONDS - began)) -ge 5 ]; }; then
    say "Redis did not start; from $redis_log:"
    tail -c "+$log_offset" "$redis_log" | tail -n 20 >&2 || true
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "Redis on 127.0.0.1:$redis_port did not become ready within 300 s; see $redis_log"
    exit 1
  fi
  sleep 0.1
done

# A Redis that answers but keeps its data elsewhere is not ours: never reconfigure someone else's.
actual_dir="$(redis_cli config get dir | sed -n 2p)"
if [ "$actual_dir" != "$redis_dir" ]; then
  say "the Redis on 127.0.0.1:$redis_port is not Sluice's local one (its data is in '${actual_dir:-?}', not $redis_dir)."
  say "stop it, or choose another port with SLUICE_LOCAL_REDIS_PORT"
  exit 1
fi
if [ -n "$started" ]; then
  say "started Redis on 127.0.0.1:$redis_port (data in .data/redis, appendfsync $fsync)"
else
  # Already running (a second npm start): keep it, but honour this run's fsync policy.
  redis_cli config set appendfsync "$fsync" >/dev/null
  say "reusing the Redis already running on 127.0.0.1:$redis_port (appendfsync $fsync)"
fi

# ---------------------------------------------------------------------------------------------
# LOCAL S3 AND ARCHIVER (next issue): start the local S3 store (data in .data/s3) and the archiver
# here, in the background, before the ingest service takes over this shell with exec.
# ---------------------------------------------------------------------------------------------

export SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port"
export SLUICE_DATA_DIR="$repo/.data"
export SLUICE_REDIS_FSYNC="$fsync"
host="${SLUICE_HOST:-127.0.0.1}"
port="${SLUICE_PORT:-4600}"
server_js="services/ingest/dist/src/server.js"
if [ ! -f "$server_js" ]; then
  say "$server_js is missing: the build produced no ingest server (does services/ingest/src/server.ts exist?)"
  exit 1
fi

# "user-1" hashes into the upper half of the key space, i.e. shard 1 of 2.
cat >&2 <<TXT

  Sluice: http://$host:$port
  Ctrl-C stops the service; its Redis keeps running: stop it with  redis-cli -p $redis_port shutdown

  curl -s -XPOST $host:$port/v1/streams -H 'content-type: application/json' -d '{"name":"demo","shardCount":2}'
  curl -s -XPOST $host:$port/v1/streams/demo/records -H 'content-type: application/json' -d '{"records":[{"partitionKey":"user-1","data":"aGVsbG8="}]}'
  curl -s '$host:$port/v1/streams/demo/shards/shardId-000000000001/records?from=TRIM_HORIZON'

TXT
exec node "$server_js"
