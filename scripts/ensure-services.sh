#!/usr/bin/env bash
# Start what the cluster-profile tests need when it is not already listening on 127.0.0.1:
# PostgreSQL 5432 (trust auth, user postgres, database test), Redis 6379, RabbitMQ 5672
# (guest/guest). Debian's packages, as on CI's machine; a service already up is left alone.
set -euo pipefail

listening() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # port, name
  for _ in $(seq 1 60); do
    listening "$1" && return 0
    sleep 1
  done
  echo "ensure-services: $2 did not come up on 127.0.0.1:$1" >&2
  return 1
}

if ! listening 5432; then
  pg_ctlcluster "$(ls /etc/postgresql | sort -V | tail -1)" main start || service postgresql start
  wait_for 5432 PostgreSQL
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null

if ! listening 6379; then
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no >/dev/null
  wait_for 6379 Redis
fi

if ! listening 5672; then
  rabbitmq-server -detached || service rabbitmq-server start
  wait_for 5672 RabbitMQ
fi
echo "ensure-services: PostgreSQL, Redis and RabbitMQ answer on 127.0.0.1"
