#!/usr/bin/env bash
# Real single-node Apache Kafka broker (KRaft, combined broker+controller) for
# Tributary's integration tests, run from the Maven Central artifact
# org.apache.kafka:kafka_2.13 (no tarball, no Docker).
#
# Usage: scripts/kafka.sh start|stop|restart|status|resolve|logs [N] [--secure]
#
#   start    Start the broker and wait until it is ready. Prints ONLY the PID
#            on stdout (PID=$(scripts/kafka.sh start)); messages go to stderr.
#            If it is already running and listening, prints that PID, exits 0.
#            Wipes data/ and logs first unless KAFKA_KEEP_DATA=1 (then an
#            already formatted data dir is reused: same cluster id, topics,
#            offsets).
#   stop     SIGTERM (graceful), SIGKILL after KAFKA_STOP_TIMEOUT seconds.
#            Only signals a process whose command line runs kafka.Kafka.
#            Deletes data/ unless KAFKA_KEEP_DATA=1.
#   restart  stop + start, always keeping data (no reformat, same cluster id).
#   status   Exit 0 iff the broker runs and its port accepts TCP connections
#            (1: process runs but port closed, 3: not running).
#   resolve  Only download the jars into the cache (e.g. to warm a CI cache)
#            and print their directory on stdout (the benchmark's Java client
#            ceiling compiles and runs against them).
#   logs [N] Print the last N (default 100) lines of the broker's server.log.
#
# Environment (defaults in brackets):
#   KAFKA_VERSION           [4.1.1] any 4.x (Java 17+) or 3.9.x (Java 11+)
#   KAFKA_HOST              [127.0.0.1]
#   KAFKA_PORT              [9092]  client (PLAINTEXT) listener
#   KAFKA_CONTROLLER_PORT   [9093]  KRaft controller listener
#   KAFKA_CACHE_DIR         [$HOME/.cache/tributary/kafka]
#   KAFKA_M2_REPO           [$KAFKA_CACHE_DIR/m2] Maven local repository
#   KAFKA_LIBS_DIR          [$KAFKA_CACHE_DIR/libs-$KAFKA_VERSION] set to a
#                           directory of jars to skip Maven entirely
#   KAFKA_POM               [scripts/kafka/pom.xml]
#   KAFKA_WORK_DIR          [${TMPDIR:-/tmp}/tributary-kafka-$KAFKA_PORT]
#   KAFKA_HEAP_OPTS         [-Xms256m -Xmx768m]
#   KAFKA_JVM_PERFORMANCE_OPTS [G1 flags from Kafka's kafka-run-class.sh]
#   KAFKA_OPTS              [] extra JVM flags for the broker
#   KAFKA_EXTRA_PROPERTIES  [] lines appended to server.properties (last wins),
#                           e.g. $'auto.create.topics.enable=true'
#   KAFKA_START_TIMEOUT     [120] seconds
#   KAFKA_STOP_TIMEOUT      [30] seconds before SIGKILL
#   KAFKA_KEEP_DATA         [0] 1: start/stop keep data/ (and the cluster id)
#   KAFKA_CLUSTER_ID        [random] cluster id used when formatting
#   KAFKA_LOG4J2_VERSION    [2.24.3 for 4.0/4.1, 2.25.3 for 4.2+]
#   MVN                     [mvn]
#   JAVA_HOME               [java from PATH]
#
# Secured broker (--secure or KAFKA_SECURE=1): a separate instance (the defaults
# below move every port, and so the work dir) that adds, beside PLAINTEXT, an
# SASL_SSL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and unsecured-JWT
# OAUTHBEARER) and an SSL listener that requires a client certificate (mTLS).
# Each fresh start makes a throw-away CA, a broker certificate (SAN IP:$KAFKA_HOST
# and DNS:$KAFKA_TLS_NAME) and a client certificate in $WORK/tls, and the SCRAM
# users with 'kafka-storage format --add-scram'.
#   KAFKA_SECURE            [0]
#   KAFKA_PORT              [19092 when secure]
#   KAFKA_CONTROLLER_PORT   [19093 when secure]
#   KAFKA_SASL_SSL_PORT     [KAFKA_PORT+2]
#   KAFKA_SSL_PORT          [KAFKA_PORT+3]
#   KAFKA_TLS_NAME          [broker.tributary.test] DNS name in the certificate
#   KAFKA_SASL_USER         [tributary]
#   KAFKA_SASL_PASSWORD     [random per start] (also in $WORK/tls/sasl.env, mode 600)
#   KAFKA_HEAP_OPTS         [-Xms128m -Xmx512m when secure]
#   KAFKA_OPTS              [-XX:TieredStopAtLevel=1 when secure] (also for formatting)
# kafka.env then also has KAFKA_SASL_SSL_SERVERS, KAFKA_SSL_SERVERS, KAFKA_TLS_DIR
# (ca.pem, client.pem, client-key.pem), KAFKA_TLS_NAME and KAFKA_SASL_USER.
#
# Work dir contents: server.properties, log4j2.properties (log4j.properties
# for 3.x), tools-log4j2.properties, data/, logs/{server.log,kafka.out},
# kafka.pid, kafka.env (KAFKA_BOOTSTRAP_SERVERS=..., KAFKA_PID=..., ...).

set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

# --secure anywhere on the command line selects the secured instance (see above).
ARGS=()
for arg in "$@"; do
  if [[ $arg == --secure ]]; then KAFKA_SECURE=1; else ARGS+=("$arg"); fi
done
set -- ${ARGS[@]+"${ARGS[@]}"}
KAFKA_SECURE=${KAFKA_SECURE:-0}
if [[ $KAFKA_SECURE == 1 ]]; then
  KAFKA_PORT=${KAFKA_PORT:-19092}
  KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
  KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
  # A test broker lives for seconds to minutes: the quick JIT tier halves its start-up time.
  KAFKA_OPTS=${KAFKA_OPTS--XX:TieredStopAtLevel=1}
fi

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_CACHE_DIR=${KAFKA_CACHE_DIR:-${HOME:-/tmp}/.cache/tributary/kafka}
KAFKA_M2_REPO=${KAFKA_M2_REPO:-$KAFKA_CACHE_DIR/m2}
KAFKA_POM=${KAFKA_POM:-$SCRIPT_DIR/kafka/pom.xml}
KAFKA_WORK_DIR=${KAFKA_WORK_DIR:-${TMPDIR:-/tmp}/tributary-kafka-$KAFKA_PORT}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
KAFKA_OPTS=${KAFKA_OPTS:-}
KAFKA_EXTRA_PROPERTIES=${KAFKA_EXTRA_PROPERTIES:-}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_KEEP_DATA=${KAFKA_KEEP_DATA:-0}
MVN=${MVN:-mvn}

# Accept "if port open but no 'started' line" after this many seconds.
READY_GRACE=15

WORK=$KAFKA_WORK_DIR
DATA_DIR=$WORK/data
LOG_DIR=$WORK/logs
PID_FILE=$WORK/kafka.pid
ENV_FILE=$WORK/kafka.env
SERVER_LOG=$LOG_DIR/server.log
OUT_LOG=$LOG_DIR/kafka.out
BOOTSTRAP=$KAFKA_HOST:$KAFKA_PORT

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now_ms() { date +%s%3N; }
elapsed() { # $1 = start ms
  local d=$(( $(now_ms) - $1 ))
  printf '%d.%01ds' $((d / 1000)) $(((d % 1000) / 100))
}

kafka_major() { printf '%s' "${KAFKA_VERSION%%.*}"; }

validate_env() {
  [[ $KAFKA_VERSION =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?([.-][A-Za-z0-9.-]+)?$ ]] \
    || die "KAFKA_VERSION='$KAFKA_VERSION' does not look like a Kafka version"
  local v
  for v in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_START_TIMEOUT KAFKA_STOP_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
  done
  [[ $KAFKA_PORT != "$KAFKA_CONTROLLER_PORT" ]] \
    || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ ($KAFKA_PORT)"
}

# ---------------------------------------------------------------- processes

# True if something accepts TCP connections on $KAFKA_HOST:$1.
port_open() {
  local port=$1
  if command -v timeout >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # $1/$2 expand in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$KAFKA_HOST" "$port" 2>/dev/null
  else
    (exec 3<>"/dev/tcp/$KAFKA_HOST/$port") 2>/dev/null
  fi
}

# True if $1 is a live (non-zombie) process.
proc_alive() {
  local pid=$1 state=
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/stat ]]; then
    state=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || true)
    [[ $state != Z ]] || return 1
  fi
  return 0
}

# True if $1 is a live process whose command line runs kafka.Kafka.
is_kafka_pid() {
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_alive "$pid" || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx 'kafka\.Kafka'
  else
    ps -o args= -p "$pid" 2>/dev/null | grep -qE '(^|[[:space:]])kafka\.Kafka([[:space:]]|$)'
  fi
}

# PID from the pid file if it is a running broker; empty otherwise.
running_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 0
  pid=$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)
  if [[ -n $pid ]] && is_kafka_pid "$pid"; then
    printf '%s' "$pid"
  fi
}

broker_started_logged() {
  [[ -f $SERVER_LOG ]] && grep -qE 'Kafka Server started|started \(kafka\.server\.KafkaRaftServer\)' "$SERVER_LOG"
}

dump_logs() {
  local f shown=0
  for f in "$SERVER_LOG" "$OUT_LOG"; do
    if [[ -s $f ]]; then
      log "---- last 50 lines of $f ----"
      tail -n 50 "$f" >&2 || true
      shown=1
    fi
  done
  if ((shown)); then log "---- end of logs ----"; else log "(no log output in $LOG_DIR yet)"; fi
}

# Wait until $1 is ready (port open + 'started' line, or port open for
# READY_GRACE s). Returns 1 if the process exits, 2 on timeout.
wait_ready() {
  local pid=$1 deadline open_since=-1
  deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    if ! proc_alive "$pid"; then
      return 1
    fi
    if port_open "$KAFKA_PORT"; then
      broker_started_logged && return 0
      ((open_since >= 0)) || open_since=$SECONDS
      if ((SECONDS - open_since >= READY_GRACE)); then
        log "warning: port $KAFKA_PORT open for ${READY_GRACE}s but no 'Kafka Server started' line in $SERVER_LOG; accepting"
        return 0
      fi
    fi
    ((SECONDS < deadline)) || return 2
    sleep 0.25
  done
}

# ---------------------------------------------------------------- java

JAVA=
find_java() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    JAVA=$JAVA_HOME/bin/java
  elif command -v java >/dev/null 2>&1; then
    JAVA=$(command -v java)
  else
    die "java not found (Kafka $KAFKA_VERSION needs Java $(java_min)+; Debian package: openjdk-17-jre-headless, or set JAVA_HOME)"
  fi
  local ver major
  ver=$("$JAVA" -version 2>&1 | sed -nE 's/.*version "([^"]+)".*/\1/p' | head -n 1)
  [[ -n $ver ]] || die "cannot determine the version of $JAVA"
  if [[ $ver == 1.* ]]; then major=${ver#1.}; major=${major%%.*}; else major=${ver%%[.+-]*}; fi
  [[ $major =~ ^[0-9]+$ ]] || die "cannot parse Java version '$ver' of $JAVA"
  if ((major < $(java_min))); then
    die "Kafka $KAFKA_VERSION needs Java $(java_min)+, but $JAVA is Java $ver (Debian package: openjdk-17-jre-headless, or set JAVA_HOME)"
  fi
}
java_min() { if (($(kafka_major) >= 4)); then echo 17; else echo 11; fi; }

# ---------------------------------------------------------------- jars

LIBS=
MARKER_NAME=.tributary-resolved

log4j2_version() {
  if [[ -n ${KAFKA_LOG4J2_VERSION:-} ]]; then echo "$KAFKA_LOG4J2_VERSION"; return; fi
  local minor=${KAFKA_VERSION#*.}; minor=${minor%%.*}
  if [[ $(kafka_major) == 4 && $minor =~ ^[0-9]+$ ]] && ((minor <= 1)); then
    echo 2.24.3
  else
    echo 2.25.3
  fi
}

resolve_libs() {
  if [[ -n ${KAFKA_LIBS_DIR:-} ]]; then
    compgen -G "$KAFKA_LIBS_DIR/*.jar" >/dev/null || die "KAFKA_LIBS_DIR=$KAFKA_LIBS_DIR contains no jars"
    LIBS=$KAFKA_LIBS_DIR
    return
  fi
  local target=$KAFKA_CACHE_DIR/libs-$KAFKA_VERSION
  if [[ -f $target/$MARKER_NAME ]] && compgen -G "$target/*.jar" >/dev/null; then
    LIBS=$target
    return
  fi
  command -v "$MVN" >/dev/null 2>&1 \
    || die "'$MVN' (Maven) not found: install the Debian package 'maven' (apt-get install -y maven), set MVN, or point KAFKA_LIBS_DIR at a directory of Kafka jars"
  [[ -f $KAFKA_POM ]] || die "POM not found: $KAFKA_POM"

  local profile=log4j2 l4j
  (($(kafka_major) >= 4)) || profile=reload4j
  l4j=$(log4j2_version)
  mkdir -p "$KAFKA_CACHE_DIR"
  local tmp=$target.partial.$$ mvn_log=$KAFKA_CACHE_DIR/resolve-$KAFKA_VERSION.log t0
  rm -rf -- "$tmp"
  t0=$(now_ms)
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION (profile $profile) with Maven into $target (log: $mvn_log)"
  if ! "$MVN" -B -ntp -f "$KAFKA_POM" \
      -Dmaven.repo.local="$KAFKA_M2_REPO" \
      -Dkafka.version="$KAFKA_VERSION" \
      -Dkafka.libs.dir="$tmp" \
      -Dlog4j2.version="$l4j" \
      -P "$profile" \
      dependency:copy-dependencies >"$mvn_log" 2>&1 9>&-; then
    tail -n 40 "$mvn_log" >&2 || true
    rm -rf -- "$tmp"
    die "Maven could not resolve Kafka $KAFKA_VERSION (is Maven Central reachable? see $mvn_log)"
  fi
  compgen -G "$tmp/*kafka_2.13-*.jar" >/dev/null || { rm -rf -- "$tmp"; die "Maven finished but no kafka_2.13 jar was copied (see $mvn_log)"; }
  printf 'kafka.version=%s\nprofile=%s\nlog4j2.version=%s\nresolved=%s\n' \
    "$KAFKA_VERSION" "$profile" "$l4j" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/$MARKER_NAME"
  if [[ -f $target/$MARKER_NAME ]]; then
    rm -rf -- "$tmp"          # another run finished first; keep its copy
  else
    rm -rf -- "$target"
    mv -- "$tmp" "$target"
  fi
  local n
  n=$(find "$target" -maxdepth 1 -name '*.jar' | wc -l)
  log "resolved $n jars in $(elapsed "$t0")"
  LIBS=$target
}

# log4j2 (4.x) or reload4j (3.x), judged by the jars actually present.
log_backend() {
  if compgen -G "$LIBS/*log4j-core-*.jar" >/dev/null; then echo log4j2
  elif compgen -G "$LIBS/*reload4j-*.jar" >/dev/null; then echo reload4j
  elif (($(kafka_major) >= 4)); then echo log4j2
  else echo reload4j
  fi
}

# ---------------------------------------------------------------- config

write_configs() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  cat >"$WORK/server.properties" <<EOF
# Generated by scripts/kafka.sh - single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT

listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA_DIR

# Single broker
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Test speed / behaviour
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
auto.create.topics.enable=false
num.partitions=1
log.cleaner.backoff.ms=500
log.cleaner.min.compaction.lag.ms=0

# Small machine
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=16777216
EOF
  if [[ $KAFKA_SECURE == 1 ]]; then secure_configs; fi
  if [[ -n $KAFKA_EXTRA_PROPERTIES ]]; then
    printf '\n# KAFKA_EXTRA_PROPERTIES\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$WORK/server.properties"
  fi

  if [[ $(log_backend) == log4j2 ]]; then
    rm -f -- "$WORK/log4j.properties" "$WORK/tools-log4j.properties"
    write_log4j2_configs
  else
    rm -f -- "$WORK/log4j2.properties" "$WORK/tools-log4j2.properties"
    write_log4j_configs
  fi
}

write_log4j2_configs() {
  cat >"$WORK/log4j2.properties" <<'EOF'
# Broker logging (Kafka 4.x, log4j2). INFO to logs/server.log.
name=tributary-kafka
# Keep logging until Kafka's own shutdown hook has finished.
shutdownHook=disable
status=warn
appender.server.type=RollingFile
appender.server.name=server
appender.server.fileName=${sys:kafka.logs.dir}/server.log
appender.server.filePattern=${sys:kafka.logs.dir}/server.log.%i
appender.server.append=true
appender.server.layout.type=PatternLayout
appender.server.layout.pattern=[%d] %p %m (%c)%n
appender.server.policies.type=Policies
appender.server.policies.size.type=SizeBasedTriggeringPolicy
appender.server.policies.size.size=50MB
appender.server.strategy.type=DefaultRolloverStrategy
appender.server.strategy.max=2
rootLogger.level=INFO
rootLogger.appenderRef.server.ref=server
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.requestchannel.name=kafka.network.RequestChannel$
logger.requestchannel.level=WARN
EOF

  cat >"$WORK/tools-log4j2.properties" <<'EOF'
# Tool logging (StorageTool): WARN to stderr.
name=tributary-kafka-tools
status=warn
appender.stderr.type=Console
appender.stderr.name=stderr
appender.stderr.target=SYSTEM_ERR
appender.stderr.layout.type=PatternLayout
appender.stderr.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.stderr.ref=stderr
EOF
}

write_log4j_configs() {
  cat >"$WORK/log4j.properties" <<'EOF'
# Broker logging (Kafka 3.x, reload4j). INFO to logs/server.log.
log4j.rootLogger=INFO, server
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.MaxFileSize=50MB
log4j.appender.server.MaxBackupIndex=2
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
EOF

  cat >"$WORK/tools-log4j.properties" <<'EOF'
# Tool logging (Kafka 3.x): WARN to stderr.
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

log_config_flag() { # $1 = broker|tools
  local prefix=
  [[ $1 == tools ]] && prefix=tools-
  if [[ $(log_backend) == log4j2 ]]; then
    printf '%s' "-Dlog4j2.configurationFile=$WORK/${prefix}log4j2.properties"
  else
    printf '%s' "-Dlog4j.configuration=file:$WORK/${prefix}log4j.properties"
  fi
}

# Kafka-style cluster id: 16 random bytes, URL-safe base64 without padding.
random_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    # Kafka reserves ids starting with '-' and the all-zero ids.
    if [[ ${#id} == 22 && $id != -* && $id != AAAAAAAAAAAAAAAAAAAAA[AQ] ]]; then
      printf '%s' "$id"
      return
    fi
  done
}

format_storage() {
  local cid=$1 out
  local -a tool_jvm=()
  [[ $KAFKA_SECURE != 1 ]] || tool_jvm=(-XX:TieredStopAtLevel=1)
  if ! out=$("$JAVA" -Xmx256m ${tool_jvm[@]+"${tool_jvm[@]}"} "$(log_config_flag tools)" -cp "$LIBS/*" \
      kafka.tools.StorageTool format -t "$cid" -c "$WORK/server.properties" ${SCRAM_ARGS[@]+"${SCRAM_ARGS[@]}"} 2>&1 </dev/null 9>&-); then
    printf '%s\n' "$out" >&2
    die "formatting $DATA_DIR failed"
  fi
}

cluster_id_of_data() {
  [[ -f $DATA_DIR/meta.properties ]] && sed -n 's/^cluster\.id=//p' "$DATA_DIR/meta.properties" | head -n 1
}

write_env_file() {
  local pid=$1 cid=$2
  cat >"$ENV_FILE.tmp" <<EOF
KAFKA_BOOTSTRAP_SERVERS=$BOOTSTRAP
KAFKA_PID=$pid
KAFKA_CLUSTER_ID=$cid
KAFKA_VERSION=$KAFKA_VERSION
KAFKA_WORK_DIR=$WORK
KAFKA_LOG_FILE=$SERVER_LOG
EOF
  if [[ $KAFKA_SECURE == 1 ]]; then secure_env >>"$ENV_FILE.tmp"; fi
  mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------- secured broker (KAFKA_SECURE=1)

TLS_DIR=$WORK/tls
SECURE_PORTS=()
SCRAM_ARGS=()

secure_validate_env() {
  KAFKA_SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 2))}
  KAFKA_SSL_PORT=${KAFKA_SSL_PORT:-$((KAFKA_PORT + 3))}
  KAFKA_TLS_NAME=${KAFKA_TLS_NAME:-broker.tributary.test}
  KAFKA_SASL_USER=${KAFKA_SASL_USER:-tributary}
  local v
  for v in KAFKA_SASL_SSL_PORT KAFKA_SSL_PORT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
  done
  [[ $KAFKA_SASL_USER =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_SASL_USER must use letters, digits, '.', '_' or '-'"
  [[ $KAFKA_TLS_NAME =~ ^[A-Za-z0-9.-]+$ ]] || die "KAFKA_TLS_NAME must be a DNS name"
  [[ -z ${KAFKA_SASL_PASSWORD:-} || $KAFKA_SASL_PASSWORD =~ ^[A-Za-z0-9._-]+$ ]] \
    || die "KAFKA_SASL_PASSWORD must use letters, digits, '.', '_' or '-' (it is written into JAAS and SCRAM arguments)"
  SECURE_PORTS=("$KAFKA_SASL_SSL_PORT" "$KAFKA_SSL_PORT")
  command -v openssl >/dev/null 2>&1 || die "openssl not found (Debian package: openssl)"
}

# Makes $1.pem and its key $1-key.pem signed by the CA; $2 = subject CN, $3 = extensions.
secure_sign() {
  local name=$1 cn=$2 ext=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TLS_DIR/$name-key.pem" -out "$TLS_DIR/$name.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' "$ext" >"$TLS_DIR/$name.ext"
  openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" \
    -CAcreateserial -days 2 -out "$TLS_DIR/$name.pem" -extfile "$TLS_DIR/$name.ext" 2>/dev/null
  rm -f -- "$TLS_DIR/$name.csr" "$TLS_DIR/$name.ext"
}

# A throw-away CA, broker and client certificates, and the SASL password. $1 = 1 (data kept):
# reuse what the previous start made, so the SCRAM credentials stored in the data stay valid.
secure_material() {
  local keep=$1 t0
  t0=$(now_ms)
  if [[ $keep == 1 && -f $TLS_DIR/sasl.env && -f $TLS_DIR/broker-keystore.pem ]]; then
    KAFKA_SASL_PASSWORD=$(sed -n 's/^KAFKA_SASL_PASSWORD=//p' "$TLS_DIR/sasl.env")
  else
    rm -rf -- "$TLS_DIR"
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -keyout "$TLS_DIR/ca-key.pem" -out "$TLS_DIR/ca.pem" -subj "/CN=Tributary throw-away test CA" 2>/dev/null
    secure_sign broker "$KAFKA_TLS_NAME" "subjectAltName=IP:$KAFKA_HOST,DNS:$KAFKA_TLS_NAME
extendedKeyUsage=serverAuth,clientAuth"
    secure_sign client tributary-client "extendedKeyUsage=clientAuth"
    cat "$TLS_DIR/broker-key.pem" "$TLS_DIR/broker.pem" "$TLS_DIR/ca.pem" >"$TLS_DIR/broker-keystore.pem"
    KAFKA_SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr '+/' '._' | tr -d '=\n')}
    (umask 077; printf 'KAFKA_SASL_USER=%s\nKAFKA_SASL_PASSWORD=%s\n' "$KAFKA_SASL_USER" "$KAFKA_SASL_PASSWORD" >"$TLS_DIR/sasl.env")
    log "made a throw-away CA and certificates in $TLS_DIR in $(elapsed "$t0")"
  fi
  SCRAM_ARGS=(
    --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]"
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]"
  )
}

# Replaces the plaintext-only listener lines written by write_configs.
secure_configs() {
  local props=$WORK/server.properties h=$KAFKA_HOST
  sed -i -e '/^listeners=/d' -e '/^advertised\.listeners=/d' -e '/^listener\.security\.protocol\.map=/d' "$props"
  cat >>"$props" <<EOF

# Secured listeners (scripts/kafka.sh --secure)
listeners=PLAINTEXT://$h:$KAFKA_PORT,CONTROLLER://$h:$KAFKA_CONTROLLER_PORT,SASL_SSL://$h:$KAFKA_SASL_SSL_PORT,SSL://$h:$KAFKA_SSL_PORT
advertised.listeners=PLAINTEXT://$h:$KAFKA_PORT,SASL_SSL://$h:$KAFKA_SASL_SSL_PORT,SSL://$h:$KAFKA_SSL_PORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="$KAFKA_SASL_USER";
EOF
  chmod 600 "$props"
}

secure_env() {
  cat <<EOF
KAFKA_SASL_SSL_SERVERS=$KAFKA_HOST:$KAFKA_SASL_SSL_PORT
KAFKA_SSL_SERVERS=$KAFKA_HOST:$KAFKA_SSL_PORT
KAFKA_TLS_DIR=$TLS_DIR
KAFKA_TLS_NAME=$KAFKA_TLS_NAME
KAFKA_SASL_USER=$KAFKA_SASL_USER
EOF
}

# ---------------------------------------------------------------- locking

# Serialise start/stop/restart on one work dir. fd 9 is closed for children.
take_lock() {
  mkdir -p "$WORK"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$WORK/.lock"
    flock -w $((KAFKA_START_TIMEOUT + KAFKA_STOP_TIMEOUT + 600)) 9 \
      || die "timed out waiting for the lock on $WORK"
  fi
}

# ---------------------------------------------------------------- commands

cmd_start() {
  local t0 pid
  t0=$(now_ms)
  take_lock

  pid=$(running_pid)
  if [[ -n $pid ]]; then
    if port_open "$KAFKA_PORT"; then
      log "already running (pid $pid) on $BOOTSTRAP"
      printf '%s\n' "$pid"
      return 0
    fi
    log "broker pid $pid is running but $BOOTSTRAP is not accepting connections yet; waiting"
    local rc=0
    wait_ready "$pid" || rc=$?
    if ((rc == 0)); then printf '%s\n' "$pid"; return 0; fi
    dump_logs
    die "broker pid $pid did not become ready (run '$0 stop' first)"
  fi
  rm -f -- "$PID_FILE" "$ENV_FILE"

  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" ${SECURE_PORTS[@]+"${SECURE_PORTS[@]}"}; do
    if port_open "$port"; then
      die "port $port on $KAFKA_HOST is already in use by another process (not this script's broker in $WORK); stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
    fi
  done

  find_java
  resolve_libs

  local keep=0 cid=
  if [[ $KAFKA_KEEP_DATA == 1 ]]; then
    cid=$(cluster_id_of_data || true)
    [[ -n $cid ]] && keep=1
  fi
  if ((keep)); then
    log "KAFKA_KEEP_DATA=1: reusing $DATA_DIR (cluster id $cid)"
    # keep one previous log for debugging; readiness needs a fresh server.log
    if [[ -f $SERVER_LOG ]]; then mv -f -- "$SERVER_LOG" "$SERVER_LOG.prev"; fi
    rm -f -- "$OUT_LOG"
  else
    rm -rf -- "${DATA_DIR:?}" "${LOG_DIR:?}"
  fi
  if [[ $KAFKA_SECURE == 1 ]]; then secure_material "$keep"; fi
  write_configs

  if ((!keep)); then
    cid=${KAFKA_CLUSTER_ID:-$(random_cluster_id)}
    format_storage "$cid"
  fi

  local -a jvm
  # shellcheck disable=SC2206 # word splitting of the *_OPTS variables is intended
  jvm=($KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS)
  jvm+=("-Dkafka.logs.dir=$LOG_DIR" "$(log_config_flag broker)")
  # shellcheck disable=SC2206
  [[ -z $KAFKA_OPTS ]] || jvm+=($KAFKA_OPTS)

  log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT, work dir $WORK)"
  local -a detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  (
    cd "$WORK"
    exec "${detach[@]}" "$JAVA" "${jvm[@]}" -cp "$LIBS/*" kafka.Kafka "$WORK/server.properties"
  ) </dev/null >"$OUT_LOG" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  local rc=0
  wait_ready "$pid" || rc=$?
  if ((rc != 0)); then
    if ((rc == 1)); then
      local code=0
      wait "$pid" 2>/dev/null || code=$?
      log "broker process $pid exited during startup (exit code $code)"
    else
      log "broker not ready after ${KAFKA_START_TIMEOUT}s; killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    dump_logs
    rm -f -- "$PID_FILE"
    die "Kafka failed to start (work dir $WORK)"
  fi
  is_kafka_pid "$pid" || die "pid $pid is not a kafka.Kafka process"

  write_env_file "$pid" "$cid"
  log "ready: $BOOTSTRAP pid $pid cluster id $cid in $(elapsed "$t0") (env: $ENV_FILE)"
  printf '%s\n' "$pid"
}

cmd_stop() {
  local keep_data=${1:-$KAFKA_KEEP_DATA} pid t0
  t0=$(now_ms)
  take_lock
  pid=$(running_pid)
  if [[ -z $pid ]]; then
    if [[ -f $PID_FILE ]]; then
      log "pid file $PID_FILE does not name a running kafka.Kafka process; not signalling anything"
    else
      log "not running"
    fi
  else
    log "stopping pid $pid (SIGTERM, SIGKILL after ${KAFKA_STOP_TIMEOUT}s)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    while proc_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if proc_alive "$pid"; then
      if is_kafka_pid "$pid"; then
        log "pid $pid still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      deadline=$((SECONDS + 10))
      while proc_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
      proc_alive "$pid" && die "pid $pid did not exit"
    fi
    log "stopped in $(elapsed "$t0")"
  fi
  rm -f -- "$PID_FILE" "$ENV_FILE"
  if [[ $keep_data != 1 ]]; then
    rm -rf -- "${DATA_DIR:?}"
  fi
}

cmd_restart() {
  cmd_stop 1
  KAFKA_KEEP_DATA=1
  cmd_start
}

cmd_status() {
  local pid
  pid=$(running_pid)
  if [[ -z $pid ]]; then
    echo "not running ($WORK)"
    return 3
  fi
  if port_open "$KAFKA_PORT"; then
    echo "running pid=$pid bootstrap=$BOOTSTRAP work_dir=$WORK"
    return 0
  fi
  echo "pid $pid running but $BOOTSTRAP is not accepting connections"
  return 1
}

cmd_resolve() {
  local t0
  t0=$(now_ms)
  resolve_libs
  log "jars for Kafka $KAFKA_VERSION in $LIBS ($(elapsed "$t0"))"
  printf '%s\n' "$LIBS"
}

cmd_logs() {
  local n=${1:-100}
  [[ $n =~ ^[0-9]+$ ]] || die "logs: N must be a number (got '$n')"
  [[ -f $SERVER_LOG ]] || die "no log file at $SERVER_LOG"
  tail -n "$n" "$SERVER_LOG"
}

usage() {
  sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    start|stop|restart|status|resolve) [[ $# -eq 0 ]] || { usage; exit 2; } ;;
    logs) [[ $# -le 1 ]] || { usage; exit 2; } ;;
    -h|--help|help) usage; exit 0 ;;
    *) usage; exit 2 ;;
  esac
  validate_env
  [[ $KAFKA_SECURE != 1 ]] || secure_validate_env
  case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_restart ;;
    status) cmd_status ;;
    resolve) cmd_resolve ;;
    logs) cmd_logs "$@" ;;
  esac
}

main "$@"
