#!/usr/bin/env bash
# npm start: Sluice on this machine. Installs what is missing and builds (ensure-deps.sh), starts a
# private redis-server with infra/redis/sluice.conf (data in .data/redis, AOF on) and a local S3
# store (s3rver, data in .data/s3, bucket sluice) unless they already run, the archiver in the
# background (if it is built), then the ingest service in the foreground.
#
#   SLUICE_LOCAL_REDIS_PORT  the private Redis's port (default 6479, beside a system Redis on 6379)
#   SLUICE_LOCAL_S3_PORT     the local S3's port (default 4568); set SLUICE_S3_BUCKET (and
#                            SLUICE_S3_ENDPOINT, AWS credentials) to archive to an S3 of your own instead
#   SLUICE_REDIS_FSYNC       everysec (default) or always: the AOF fsync policy, told to Redis and ingest
#   SLUICE_HOST, SLUICE_PORT where the service listens (default 127.0.0.1:4600)
#   SLUICE_ARCHIVER_METRICS_PORT  the archiver's /metrics and /readyz (default 4601)
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
  log_offset=$(($( { wc -c <"$redis_log"; } 2>/dev/null || echo 0) + 1))
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

# http_get URL [METHOD]: "<status> <body>" of the answer, or nothing when nothing answers within 2 s.
# (Node rather than curl: Node is certain to be here.)
http_get() {
  node -e 'fetch(process.argv[1], { method: process.argv[2], signal: AbortSignal.timeout(2000) })
    .then(async (r) => console.log(r.status, (await r.text()).replace(/\s+/g, " ").slice(0, 300)), () => {})' \
    "$1" "${2:-GET}" 2>/dev/null || true
}

# The archive: a local S3 store (s3rver, data in .data/s3, kept running like Redis) and the archiver
# (stopped with the service). SLUICE_S3_BUCKET or SLUICE_S3_ENDPOINT set means an S3 of your own:
# no local S3 then, and the AWS credentials are yours too.
archiver_js="services/archiver/dist/src/server.js"
if [ ! -f "$archiver_js" ]; then
  # Without an archiver the ingest must not believe archiving is on: its puts would stop at the
  # unarchived-bytes bound.
  say "$archiver_js is missing (the archiver is not built): archiving is off"
  s3_note="  Archive: off (no archiver)"
elif [ -n "${SLUICE_S3_BUCKET:-}${SLUICE_S3_ENDPOINT:-}" ]; then
  s3_note="  Archive: s3://${SLUICE_S3_BUCKET:-?} (${SLUICE_S3_ENDPOINT:-AWS})"
else
  s3_port="${SLUICE_LOCAL_S3_PORT:-4568}"
  s3_dir="$repo/.data/s3"
  s3_pidfile="$s3_dir/s3rver.pid"
  s3_log="$s3_dir/s3rver.log"
  s3_url="http://127.0.0.1:$s3_port"
  # testkit's s3rver runner (see services/testkit/src/s3rver-main.ts), built with everything else.
  s3rver_main="$repo/services/testkit/dist/src/s3rver-main.js"
  # s3rver's ListObjectsV2 paging needs DES, which OpenSSL 3 keeps in its legacy provider.
  node_flags=()
  if node -e 'process.exit(process.allowedNodeEnvironmentFlags.has("--openssl-legacy-provider") ? 0 : 1)'; then
    node_flags=(--openssl-legacy-provider)
  fi
  mkdir -p "$s3_dir"
  # The pid of the local S3, if its pidfile names a live s3rver on .data/s3. As with Redis, a pidfile
  # outlives a kill -9, and its pid may since belong to another program (or to a zombie: no cmdline).
  private_s3_pid() {
    local pid
    pid="$(cat "$s3_pidfile" 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    if [ -d "/proc/$pid" ]; then
      [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *s3rver*.js" --directory $s3_dir "* ]] || return 1
    fi
    echo "$pid"
  }

  s3_started=""
  if s3_pid="$(private_s3_pid)"; then
    if [ -d "/proc/$s3_pid" ] && [[ "$(tr '\0' ' ' <"/proc/$s3_pid/cmdline")" != *" --port $s3_port "* ]]; then
      say "the local S3 (pid $s3_pid) runs on another port than $s3_port: stop it with  kill $s3_pid  or set SLUICE_LOCAL_S3_PORT to its port"
      exit 1
    fi
  elif [ -n "$(http_get "$s3_url/")" ]; then
    say "something else answers on 127.0.0.1:$s3_port: stop it or choose another port with SLUICE_LOCAL_S3_PORT"
    exit 1
  else
    if [ ! -f "$s3rver_main" ]; then
      say "$s3rver_main is missing: the build did not produce it"
      exit 1
    fi
    s3_log_offset=$(($( { wc -c <"$s3_log"; } 2>/dev/null || echo 0) + 1))
    # Its own session: Ctrl-C on the service leaves it running, as it does Redis.
    setsid nohup node ${node_flags[@]+"${node_flags[@]}"} "$s3rver_main" --directory "$s3_dir" --address 127.0.0.1 \
      --port "$s3_port" --bucket sluice >>"$s3_log" 2>&1 </dev/null &
    echo $! >"$s3_pidfile"
    s3_started=1
  fi

  deadline=$((SECONDS + 30))
  until [ "$(http_get "$s3_url/")" != "" ]; do
    if ! private_s3_pid >/dev/null; then
      say "the local S3 (s3rver) did not start; from $s3_log:"
      if [ -n "$s3_started" ]; then tail -c "+$s3_log_offset" "$s3_log" | tail -n 20 >&2 || true; fi
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the local S3 on 127.0.0.1:$s3_port did not answer within 30 s; see $s3_log"
      exit 1
    fi
    sleep 0.1
  done
  # A bucket deleted by hand since the first start comes back (s3rver creates it only at start).
  bucket_answer="$(http_get "$s3_url/sluice" HEAD)"
  if [ "${bucket_answer%% *}" = 404 ]; then
    bucket_answer="$(http_get "$s3_url/sluice" PUT)"
    say "the local S3 had no bucket sluice: created it"
  fi
  if [ "${bucket_answer%% *}" != 200 ]; then
    say "the local S3 on 127.0.0.1:$s3_port has no bucket sluice and could not create it: ${bucket_answer:-no answer}"
    exit 1
  fi
  if [ -n "$s3_started" ]; then
    say "started a local S3 (s3rver) on 127.0.0.1:$s3_port (data in .data/s3, bucket sluice)"
  else
    say "reusing the local S3 (s3rver) already running on 127.0.0.1:$s3_port"
  fi
  export SLUICE_S3_ENDPOINT="$s3_url" SLUICE_S3_BUCKET=sluice SLUICE_S3_FORCE_PATH_STYLE=1 SLUICE_S3_REGION=us-east-1
  # s3rver knows one account, S3RVER/S3RVER, and refuses any other access key: credentials exported
  # in this shell for a real AWS account cannot reach it, so they are replaced (for these processes only).
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
  unset AWS_SESSION_TOKEN AWS_PROFILE
  s3_note="  Local S3 (s3rver): $s3_url, bucket sluice; stop it with  kill \$(cat .data/s3/s3rver.pid)"
fi

export SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port"
export SLUICE_DATA_DIR="$repo/.data"
export SLUICE_REDIS_FSYNC="$fsync"
host="${SLUICE_HOST:-127.0.0.1}"
port="${SLUICE_PORT:-4600}"
server_js="services/ingest/dist/src/server.js"
if [ ! -f "$server_js" ]; then
  say "$server_js is missing: the build did not produce it"
  exit 1
fi

# The archiver in the background, logging to .data/archiver.log; it stops when the service does.
# Ready when its /readyz answers 200: Redis answers and the bucket is reachable.
archiver_note=""
if [ -f "$archiver_js" ]; then
  archiver_log="$repo/.data/archiver.log"
  archiver_log_offset=$(($( { wc -c <"$archiver_log"; } 2>/dev/null || echo 0) + 1))
  archiver_host="${SLUICE_ARCHIVER_HOST:-127.0.0.1}"
  case "$archiver_host" in 0.0.0.0 | :: | "[::]") archiver_host=127.0.0.1 ;; esac
  archiver_port="${SLUICE_ARCHIVER_METRICS_PORT:-4601}"
  # Whatever answers there now is not this archiver, and would pass for it below.
  if [ "$archiver_port" != 0 ] && [ -n "$(http_get "http://$archiver_host:$archiver_port/readyz")" ]; then
    say "something else answers on $archiver_host:$archiver_port (an archiver of another npm start?): stop it or choose another port with SLUICE_ARCHIVER_METRICS_PORT"
    exit 1
  fi
  node "$archiver_js" >>"$archiver_log" 2>&1 &
  archiver_pid=$!
  stop_archiver() { kill -TERM "$archiver_pid" 2>/dev/null && wait "$archiver_pid" 2>/dev/null || true; }
  trap stop_archiver EXIT
  archiver_failed() {
    say "$1; from $archiver_log:"
    tail -c "+$archiver_log_offset" "$archiver_log" | tail -n 20 >&2 || true
    exit 1
  }
  deadline=$((SECONDS + 30))
  readyz=""
  # Port 0 (any free port) leaves nothing to ask: alive is all there is to check.
  until [ "$archiver_port" = 0 ] || [ "${readyz%% *}" = 200 ]; do
    kill -0 "$archiver_pid" 2>/dev/null || archiver_failed "the archiver did not start"
    [ "$SECONDS" -lt "$deadline" ] || archiver_failed "the archiver was not ready within 30 s (${readyz:-its /readyz did not answer})"
    sleep 0.2
    readyz="$(http_get "http://$archiver_host:$archiver_port/readyz")"
  done
  kill -0 "$archiver_pid" 2>/dev/null || archiver_failed "the archiver exited"
  say "started the archiver (metrics on $archiver_host:$archiver_port, log in .data/archiver.log)"
  archiver_note=" and the archiver"
fi

# "user-1" hashes into the upper half of the key space, i.e. shard 1 of 2.
cat >&2 <<TXT

  Sluice: http://$host:$port
  Ctrl-C stops the service$archiver_note; its Redis keeps running: stop it with  redis-cli -p $redis_port shutdown
$s3_note

  curl -s -XPOST $host:$port/v1/streams -H 'content-type: application/json' -d '{"name":"demo","shardCount":2}'
  curl -s -XPOST $host:$port/v1/streams/demo/records -H 'content-type: application/json' -d '{"records":[{"partitionKey":"user-1","data":"aGVsbG8="}]}'
  curl -s '$host:$port/v1/streams/demo/shards/shardId-000000000001/records?from=TRIM_HORIZON'

TXT
# Not exec: this shell stays to stop the archiver when the service ends. Ctrl-C reaches both.
trap 'kill -TERM "$ingest_pid" 2>/dev/null' TERM
node "$server_js" &
ingest_pid=$!
status=0
wait "$ingest_pid" || status=$?
# A TERM to this shell interrupts the wait: wait again for the service to finish its shutdown.
if kill -0 "$ingest_pid" 2>/dev/null; then wait "$ingest_pid" || status=$?; fi
exit "$status"
