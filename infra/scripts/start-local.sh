#!/usr/bin/env bash
# npm start: everything on this machine. Installs what is missing, starts a private redis-server
# (data in .data/redis, AOF on) unless it already runs, then the ingest service in the foreground.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/ensure-deps.sh

repo="$(pwd)"
redis_port="${SLUICE_LOCAL_REDIS_PORT:-6479}"
redis_dir="$repo/.data/redis"
fsync="${SLUICE_REDIS_FSYNC:-everysec}"
mkdir -p "$redis_dir"

if redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
  say "Redis already answers on 127.0.0.1:$redis_port; using it (appendfsync $fsync)"
  redis-cli -p "$redis_port" config set appendfsync "$fsync" >/dev/null
else
  redis-server "$repo/infra/redis/sluice.conf" \
    --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir" --appendfsync "$fsync" \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG || { say "Redis did not start; see $redis_dir/redis.log"; exit 1; }
  say "started Redis on 127.0.0.1:$redis_port (data in .data/redis, appendfsync $fsync)"
fi

# (The archiver issue adds a local S3 store and the archiver here.)

export SLUICE_REDIS_URL="redis://127.0.0.1:$redis_port"
export SLUICE_DATA_DIR="$repo/.data"
export SLUICE_REDIS_FSYNC="$fsync"
host="${SLUICE_HOST:-127.0.0.1}"
port="${SLUICE_PORT:-4600}"
cat >&2 <<TXT

  Sluice: http://$host:$port   (Ctrl-C stops the service; "redis-cli -p $redis_port shutdown" stops its Redis)

  curl -s -XPOST $host:$port/v1/streams -H 'content-type: application/json' -d '{"name":"demo","shardCount":2}'
  curl -s -XPOST $host:$port/v1/streams/demo/records -H 'content-type: application/json' \\
       -d '{"records":[{"partitionKey":"user-1","data":"aGVsbG8="}]}'
  curl -s '$host:$port/v1/streams/demo/shards/shardId-000000000001/records?from=TRIM_HORIZON'

TXT
exec node services/ingest/dist/src/server.js
