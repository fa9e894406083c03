#!/usr/bin/env bash
# The real-server test rig: a throwaway Postfix (many smtpd services), an aiosmtpd peer and
# Postfix's smtp-sink, all on 127.0.0.1, with their own certificates. See README.md beside this.
#
#   rig.sh start    stop any previous rig, install what is missing, make certificates, start every
#                   server, wait until each one greets, write $RIG_DIR/rig.env
#   rig.sh start --core
#                   the same with the core servers only (Postfix, aiosmtpd, smtp-sink): no Exim
#                   (exim.sh), no Dovecot LMTP (dovecot.sh). `make demo` needs no more.
#   rig.sh stop     stop everything the rig started (pid files, `postfix -c DIR stop`)
#   rig.sh status   what runs; exit 0 only when every server greets
#
# RIG_DIR (default: <repo>/.rig; any path, white space included) holds rig.env, logs, pid files
# and the aiosmtpd spool. What Postfix (user postfix) and smtp-sink (user nobody) must reach lives
# in STATE instead (see below), since RIG_DIR may sit under a 0700 home and hold white space.
# RIG_PORT_BASE (default 24500) moves every port; the ports are RIG_PORT_BASE + a fixed offset.
# Needs root (Postfix starts only as root). Never touches the system's own Postfix.
set -euo pipefail

RIG_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$RIG_SCRIPTS/../.." && pwd)"
RIG_DIR="${RIG_DIR:-$REPO/.rig}"
case "$RIG_DIR" in /*) ;; *) RIG_DIR="$(pwd)/$RIG_DIR" ;; esac
# `start` uses RIG_PORT_BASE or 24500; `stop` and `status` use the base the running rig was
# started with (kept in run/port-base) unless RIG_PORT_BASE says otherwise.
if [ -n "${RIG_PORT_BASE:-}" ]; then
    PORT_BASE="$RIG_PORT_BASE"
elif [ "${1:-}" != start ] && [ -r "$RIG_DIR/run/port-base" ]; then
    PORT_BASE="$(tr -dc '0-9' <"$RIG_DIR/run/port-base")"
else
    PORT_BASE=24500
fi
case "$PORT_BASE" in
    ''|*[!0-9]*) echo "rig: RIG_PORT_BASE must be a number" >&2; exit 2 ;;
esac
if [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65400 ]; then
    echo "rig: RIG_PORT_BASE must be between 1024 and 65400" >&2; exit 2
fi
PYTHON="${RIG_PYTHON:-python3}"
WAIT_SECONDS="${RIG_WAIT_SECONDS:-20}"

# Postfix and smtp-sink live in /usr/sbin; install-deps.sh wants swift on PATH. Appended, never
# prepended, so the python3 that install-deps.sh equips stays the one that runs the rig.
PATH="$PATH:/usr/sbin:/sbin"
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    PATH="$PATH:/opt/swift/usr/bin"
fi
export PATH

SASL_USER="alice@test.local"
SASL_PASSWORD="${RIG_SASL_PASSWORD:-rig-Passw0rd-42}"

# STATE: Postfix's config, queue, data and maillog, the certificates and sasldb it reads, and
# smtp-sink's dump directory. Every user can traverse it and its path has no white space (main.cf
# and master.cf values cannot quote); one per RIG_DIR, named from a hash of RIG_DIR; root-owned
# 0755; `stop` removes it. Only these, and the RIG_DIR entries below, are ever deleted.
STATE="/var/tmp/smtp-rig-$(printf '%s' "$RIG_DIR" | sha256sum | cut -c1-16)"
CERTS="$STATE/certs"
PF="$STATE/postfix"
PF_CONF="$PF/etc"
PF_QUEUE="$PF/queue"
PF_DATA="$PF/data"
PF_MAILLOG="$PF/maillog"
SINK_DUMP="$STATE/sink-dump"
# Layout under RIG_DIR.
SPOOL="$RIG_DIR/aiosmtpd"
LOGS="$RIG_DIR/logs"
RUN="$RIG_DIR/run"
ENV_FILE="$RIG_DIR/rig.env"

P_STARTTLS=$((PORT_BASE + 25))
P_PLAIN_AUTH=$((PORT_BASE + 26))
P_NOTLS=$((PORT_BASE + 27))
P_EXPIRED=$((PORT_BASE + 30))
P_SELFSIGNED=$((PORT_BASE + 31))
P_WRONGNAME=$((PORT_BASE + 32))
P_UNTRUSTED=$((PORT_BASE + 33))
P_AIOSMTPD=$((PORT_BASE + 40))
P_SINK=$((PORT_BASE + 50))
P_SINK_NOPIPE=$((PORT_BASE + 51))
P_SINK_DUMP=$((PORT_BASE + 52))
P_IMPLICIT=$((PORT_BASE + 65))
P_SUBMISSION=$((PORT_BASE + 87))

CORE_PORTS="$P_STARTTLS $P_PLAIN_AUTH $P_NOTLS $P_EXPIRED $P_SELFSIGNED $P_WRONGNAME $P_UNTRUSTED
$P_AIOSMTPD $P_SINK $P_SINK_NOPIPE $P_SINK_DUMP $P_IMPLICIT $P_SUBMISSION"

say() { echo "rig: $*" >&2; }

# The servers beyond the core: Dovecot LMTP and Exim, each in its own file.
# shellcheck source=dovecot.sh
. "$RIG_SCRIPTS/dovecot.sh"
# shellcheck source=exim.sh
. "$RIG_SCRIPTS/exim.sh"

# extras_on: the running (or starting) rig has the extra servers (`start` without --core).
extras_on() { [ "$(cat "$RUN/servers" 2>/dev/null || true)" = all ]; }

# ---------------------------------------------------------------------------------------------
# processes

# A pid counts as running unless it is gone or a zombie (children reparented to a pid 1 that
# does not reap them stay <defunct>: harmless, but `kill -0` still succeeds on them).
alive() {
    local pid="$1" stat
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [ "${stat%% *}" != "Z" ]
}

cmdline_of() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true; }

# wait_gone SECONDS PID...: bounded poll until none of the pids runs.
wait_gone() {
    local limit="$1" pid deadline
    shift
    deadline=$(( $(date +%s%N) + limit * 1000000000 ))
    while [ "$(date +%s%N)" -lt "$deadline" ]; do
        local any=0
        for pid in "$@"; do alive "$pid" && any=1; done
        [ "$any" -eq 0 ] && return 0
        sleep 0.05
    done
    return 1
}

# Processes of our Postfix instance: Postfix gives every daemon MAIL_CONFIG=<config dir>.
# postfix_pids [CONF_DIR]
postfix_pids() {
    local f pid conf="${1:-$PF_CONF}"
    for f in /proc/[0-9]*/environ; do
        pid="${f#/proc/}"; pid="${pid%/environ}"
        if grep -qzxF "MAIL_CONFIG=$conf" "$f" 2>/dev/null; then
            alive "$pid" && echo "$pid"
        fi
    done
    return 0
}

# master_pid [QUEUE_DIR]
master_pid() {
    local pid queue="${1:-$PF_QUEUE}"
    [ -r "$queue/pid/master.pid" ] || return 1
    pid="$(tr -dc '0-9' <"$queue/pid/master.pid")"
    alive "$pid" && cmdline_of "$pid" | grep -q 'master' && echo "$pid"
}

# Postfix prints its errors only to a terminal or syslog; `script` gives it a terminal.
# postfix_cmd CONF_DIR COMMAND
postfix_cmd() {
    script -qec "postfix -c $(printf '%q' "$1") $2" /dev/null </dev/null
}

# stop_pidfile FILE MARKER: TERM (then KILL) the pid in FILE if its command line has MARKER.
stop_pidfile() {
    local file="$1" marker="$2" pid
    [ -f "$file" ] || return 0
    pid="$(tr -dc '0-9' <"$file")"
    if alive "$pid" && cmdline_of "$pid" | grep -qF -- "$marker"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone 5 "$pid"; then
            say "pid $pid ($marker) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone 5 "$pid" || say "pid $pid ($marker) survived SIGKILL"
        fi
    fi
    rm -f "$file"
}

# stop_postfix CONF_DIR QUEUE_DIR
stop_postfix() {
    local conf="$1" queue="$2" pid pids
    [ -f "$conf/main.cf" ] || return 0
    if pid="$(master_pid "$queue")"; then
        postfix_cmd "$conf" stop >>"$LOGS/postfix-stop.log" 2>&1 || true
        if ! wait_gone 10 "$pid"; then
            say "Postfix master $pid did not stop in 10 s; postfix abort"
            postfix_cmd "$conf" abort >>"$LOGS/postfix-stop.log" 2>&1 || true
            wait_gone 5 "$pid" || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # Daemons left behind by a master that died (only ours: matched by MAIL_CONFIG).
    pids="$(postfix_pids "$conf")"
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        # shellcheck disable=SC2086
        wait_gone 5 $pids || kill -KILL $pids 2>/dev/null || true
    fi
}

# state_is_ours: STATE is absent, or a real directory owned by root (/var/tmp is world-writable:
# anything else there was not made by rig.sh and is left alone).
state_is_ours() {
    [ -e "$STATE" ] || [ -L "$STATE" ] || return 0
    [ -d "$STATE" ] && ! [ -L "$STATE" ] && [ "$(stat -c %u "$STATE")" = 0 ]
}

do_stop() {
    [ -d "$RIG_DIR" ] || [ -e "$STATE" ] || return 0
    state_is_ours || { say "$STATE is not a root-owned directory; not touching it"; exit 1; }
    mkdir -p "$LOGS"
    rm -f "$ENV_FILE"
    stop_postfix "$PF_CONF" "$PF_QUEUE"
    # A rig started before STATE existed kept Postfix and the certificates in RIG_DIR.
    stop_postfix "$RIG_DIR/postfix/etc" "$RIG_DIR/postfix/queue"
    rm -rf "$RIG_DIR/postfix" "$RIG_DIR/certs" "$RIG_DIR/sink-dump"
    stop_pidfile "$RUN/aiosmtpd.pid" "aiosmtpd_server.py"
    stop_pidfile "$RUN/sink.pid" "smtp-sink"
    stop_pidfile "$RUN/sink-nopipe.pid" "smtp-sink"
    stop_pidfile "$RUN/sink-dump.pid" "smtp-sink"
    stop_dovecot
    stop_exim
    # The maillog outlives the rig, for a look after a failure.
    if [ -f "$PF_MAILLOG" ]; then cp "$PF_MAILLOG" "$LOGS/postfix-maillog"; fi
    rm -rf "$STATE"
}

# ---------------------------------------------------------------------------------------------
# failure reporting

tail_log() {
    local file="$1" n="${2:-30}"
    if [ -s "$file" ]; then
        echo "---- last $n lines of $file" >&2
        tail -n "$n" "$file" >&2
    fi
}

# die MESSAGE: report, show the logs, stop what was started, exit 1.
die() {
    say "FAILED: $*"
    tail_log "$PF_MAILLOG" 40
    tail_log "$LOGS/postfix-start.log"
    tail_log "$LOGS/aiosmtpd.log" 20
    tail_log "$DV_LOG" 20
    tail_log "$LOGS/dovecot.log" 10
    exim_logs_tail
    local f
    for f in "$LOGS"/sink*.log; do [ -e "$f" ] && tail_log "$f" 10; done
    say "stopping what was started"
    do_stop || true
    exit 1
}

# ---------------------------------------------------------------------------------------------
# configuration

write_postfix_config() {
    mkdir -p "$PF_CONF/sasl" "$PF_QUEUE" "$PF_DATA"
    chown root:root "$PF" "$PF_CONF" "$PF_QUEUE"
    chmod 755 "$PF" "$PF_CONF" "$PF_QUEUE"
    chown postfix:postfix "$PF_DATA"
    chmod 700 "$PF_DATA"

    cat >"$PF_CONF/main.cf" <<EOF
# Throwaway Postfix of the test rig (scripts/rig/rig.sh). Every transport discards.
compatibility_level = 3.6
meta_directory = /etc/postfix
config_directory = $PF_CONF
queue_directory = $PF_QUEUE
data_directory = $PF_DATA
mail_owner = postfix
setgid_group = postdrop

myhostname = mx.test.local
mydomain = test.local
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_peername_lookup = no

# No real delivery, anywhere.
default_transport = discard
relay_transport = discard
local_transport = discard
virtual_transport = discard

# No syslog here: Postfix writes its own log file.
maillog_file = $PF_MAILLOG
maillog_file_prefixes = $STATE

# TLS: offered (STARTTLS) everywhere unless a service says otherwise.
smtpd_tls_cert_file = $CERTS/server.crt
smtpd_tls_key_file = $CERTS/server.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes

# SASL (Cyrus sasldb; Debian's smtpd reads \$config_directory/sasl/smtpd.conf), per service.
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_auth_enable = no
smtpd_tls_auth_only = yes
smtpd_sasl_security_options = noanonymous

# From 127.0.0.1 relay to any domain (transports discard).
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
# One address is always refused, so tests see a per-recipient refusal from a real server.
smtpd_recipient_restrictions = check_recipient_access inline:{refused@example.net=REJECT}

# Load tests: 100+ concurrent sessions, no rate limits, no stalls, 50 MB bodies.
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0
smtpd_client_auth_rate_limit = 0
smtpd_client_event_limit_exceptions = 127.0.0.0/8
in_flow_delay = 0s
smtpd_error_sleep_time = 0s
message_size_limit = $MESSAGE_SIZE_LIMIT
mailbox_size_limit = 0
virtual_mailbox_limit = 0
EOF

    # master.cf: each smtpd service on its own loopback port; syslog_name tells them apart in
    # the maillog. Certificates in -o values: STATE has no white space.
    cat >"$PF_CONF/master.cf" <<EOF
# service              type  private unpriv chroot wakeup maxproc command + args
127.0.0.1:$P_STARTTLS  inet  n       -      n      -      -       smtpd
  -o syslog_name=postfix/starttls
127.0.0.1:$P_SUBMISSION inet n       -      n      -      -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$P_IMPLICIT  inet  n       -      n      -      -       smtpd
  -o syslog_name=postfix/implicit
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$P_PLAIN_AUTH inet n       -      n      -      -       smtpd
  -o syslog_name=postfix/plainauth
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=no
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$P_NOTLS     inet  n       -      n      -      -       smtpd
  -o syslog_name=postfix/notls
  -o smtpd_tls_security_level=none
127.0.0.1:$P_EXPIRED   inet  n       -      n      -      -       smtpd
  -o syslog_name=postfix/expired
  -o smtpd_tls_cert_file=$CERTS/expired.crt
  -o smtpd_tls_key_file=$CERTS/expired.key
127.0.0.1:$P_SELFSIGNED inet n       -      n      -      -       smtpd
  -o syslog_name=postfix/selfsigned
  -o smtpd_tls_cert_file=$CERTS/selfsigned.crt
  -o smtpd_tls_key_file=$CERTS/selfsigned.key
127.0.0.1:$P_WRONGNAME inet  n       -      n      -      -       smtpd
  -o syslog_name=postfix/wrongname
  -o smtpd_tls_cert_file=$CERTS/wrongname.crt
  -o smtpd_tls_key_file=$CERTS/wrongname.key
127.0.0.1:$P_UNTRUSTED inet  n       -      n      -      -       smtpd
  -o syslog_name=postfix/untrusted
  -o smtpd_tls_cert_file=$CERTS/untrusted.crt
  -o smtpd_tls_key_file=$CERTS/untrusted.key
cleanup    unix  n       -      n      -      0       cleanup
qmgr       unix  n       -      n      300    1       qmgr
tlsmgr     unix  -       -      n      1000?  1       tlsmgr
rewrite    unix  -       -      n      -      -       trivial-rewrite
bounce     unix  -       -      n      -      0       bounce
defer      unix  -       -      n      -      0       bounce
trace      unix  -       -      n      -      0       bounce
verify     unix  -       -      n      -      1       verify
flush      unix  n       -      n      1000?  0       flush
proxymap   unix  -       -      n      -      -       proxymap
proxywrite unix  -       -      n      -      1       proxymap
showq      unix  n       -      n      -      -       showq
error      unix  -       -      n      -      -       error
retry      unix  -       -      n      -      -       error
discard    unix  -       -      n      -      -       discard
anvil      unix  -       -      n      -      1       anvil
scache     unix  -       -      n      -      1       scache
postlog    unix-dgram n  -      n      -      1       postlogd
EOF

    # Every Postfix program sleeps (re-reading main.cf every 0.3 s) until main.cf is about 2 s
    # old; backdating the freshly written file saves those seconds on every start.
    touch -d '-10 seconds' "$PF_CONF/main.cf" "$PF_CONF/master.cf"

    cat >"$PF_CONF/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN CRAM-MD5
sasldb_path: $PF_CONF/sasl/sasldb2
EOF
    echo "$SASL_PASSWORD" | saslpasswd2 -p -c -f "$PF_CONF/sasl/sasldb2" -u test.local alice \
        || die "saslpasswd2 could not create $PF_CONF/sasl/sasldb2"
    # root-owned (postfix check wants that), readable by smtpd through its group.
    chown root:postfix "$PF_CONF/sasl/sasldb2"
    chmod 640 "$PF_CONF/sasl/sasldb2"
}

start_postfix() {
    : >"$PF_MAILLOG"
    if ! postfix_cmd "$PF_CONF" check >"$LOGS/postfix-start.log" 2>&1; then
        die "postfix -c $PF_CONF check failed (see below)"
    fi
    if ! postfix_cmd "$PF_CONF" start >>"$LOGS/postfix-start.log" 2>&1; then
        die "postfix -c $PF_CONF start failed (see below)"
    fi
    master_pid >/dev/null || die "Postfix master is not running after postfix start"
}

# start_bg NAME LOGFILE COMMAND...: a simple command in the background, so $! is its own pid.
start_bg() {
    local name="$1" log="$2"
    shift 2
    "$@" </dev/null >>"$log" 2>&1 &
    echo "$!" >"$RUN/$name.pid"
}

# probe SECONDS: every server greets with 220 (the implicit-TLS port after a verified handshake).
# A background server that has exited fails at once rather than at the deadline.
probe() {
    local pid_aiosmtpd pid_sink pid_nopipe pid_dump
    pid_aiosmtpd="$(cat "$RUN/aiosmtpd.pid" 2>/dev/null || echo 0)"
    pid_sink="$(cat "$RUN/sink.pid" 2>/dev/null || echo 0)"
    pid_nopipe="$(cat "$RUN/sink-nopipe.pid" 2>/dev/null || echo 0)"
    pid_dump="$(cat "$RUN/sink-dump.pid" 2>/dev/null || echo 0)"
    local extra=()
    if extras_on; then
        # shellcheck disable=SC2207
        extra=($(dovecot_probe_args) $(exim_probe_args))
    fi
    "$PYTHON" "$RIG_SCRIPTS/wait_ports.py" --timeout "$1" --ca-file "$CERTS/ca-bundle.pem" \
        "postfix-starttls=$P_STARTTLS" "postfix-submission=$P_SUBMISSION" \
        "postfix-implicit=$P_IMPLICIT/tls" "postfix-plain-auth=$P_PLAIN_AUTH" \
        "postfix-notls=$P_NOTLS" "postfix-expired=$P_EXPIRED" "postfix-selfsigned=$P_SELFSIGNED" \
        "postfix-wrongname=$P_WRONGNAME" "postfix-untrusted=$P_UNTRUSTED" \
        "aiosmtpd=$P_AIOSMTPD@$pid_aiosmtpd" "sink=$P_SINK@$pid_sink" \
        "sink-nopipe=$P_SINK_NOPIPE@$pid_nopipe" "sink-dump=$P_SINK_DUMP@$pid_dump" "${extra[@]}"
}

# env_line NAME VALUE: `export NAME='VALUE'`, a ' inside VALUE written as '\''
# (POSIX shell quoting: `.` reads it, Python's shlex.split parses it).
env_line() {
    local q="'\\''"
    printf "export %s='%s'\n" "$1" "${2//\'/$q}"
}

write_env() {
    local tmp="$ENV_FILE.tmp"
    {
        echo "# Written by scripts/rig/rig.sh start on $(date -u +%Y-%m-%dT%H:%M:%SZ). Source it: . $(printf '%q' "$ENV_FILE")"
        env_line RIG_DIR "$RIG_DIR"
        env_line RIG_STATE_DIR "$STATE"
        env_line RIG_HOST "127.0.0.1"
        env_line RIG_TLS_NAME "localhost"
        echo
        env_line RIG_CERT_DIR "$CERTS"
        env_line RIG_CA_FILE "$CERTS/ca-bundle.pem"
        env_line RIG_CA_DIR "$CERTS/ca-dir"
        env_line RIG_CA_CERT "$CERTS/ca.crt"
        env_line RIG_CA_KEY "$CERTS/ca.key"
        env_line RIG_UNTRUSTED_CA_FILE "$CERTS/untrusted-ca.crt"
        env_line RIG_SERVER_CERT "$CERTS/server.crt"
        env_line RIG_SERVER_KEY "$CERTS/server.key"
        env_line RIG_EXPIRED_CERT "$CERTS/expired.crt"
        env_line RIG_EXPIRED_KEY "$CERTS/expired.key"
        env_line RIG_SELFSIGNED_CERT "$CERTS/selfsigned.crt"
        env_line RIG_SELFSIGNED_KEY "$CERTS/selfsigned.key"
        env_line RIG_WRONGNAME_CERT "$CERTS/wrongname.crt"
        env_line RIG_WRONGNAME_KEY "$CERTS/wrongname.key"
        env_line RIG_UNTRUSTED_CERT "$CERTS/untrusted.crt"
        env_line RIG_UNTRUSTED_KEY "$CERTS/untrusted.key"
        echo
        env_line RIG_SASL_USER "$SASL_USER"
        env_line RIG_SASL_PASSWORD "$SASL_PASSWORD"
        echo
        env_line RIG_POSTFIX_CONFIG "$PF_CONF"
        env_line RIG_POSTFIX_MAILLOG "$PF_MAILLOG"
        env_line RIG_POSTFIX_MESSAGE_SIZE_LIMIT "$MESSAGE_SIZE_LIMIT"
        env_line RIG_POSTFIX_STARTTLS_PORT "$P_STARTTLS"
        env_line RIG_POSTFIX_SUBMISSION_PORT "$P_SUBMISSION"
        env_line RIG_POSTFIX_IMPLICIT_PORT "$P_IMPLICIT"
        env_line RIG_POSTFIX_PLAIN_AUTH_PORT "$P_PLAIN_AUTH"
        env_line RIG_POSTFIX_NOTLS_PORT "$P_NOTLS"
        env_line RIG_POSTFIX_EXPIRED_PORT "$P_EXPIRED"
        env_line RIG_POSTFIX_SELFSIGNED_PORT "$P_SELFSIGNED"
        env_line RIG_POSTFIX_WRONGNAME_PORT "$P_WRONGNAME"
        env_line RIG_POSTFIX_UNTRUSTED_PORT "$P_UNTRUSTED"
        echo
        env_line RIG_AIOSMTPD_PORT "$P_AIOSMTPD"
        env_line RIG_AIOSMTPD_SPOOL "$SPOOL"
        echo
        env_line RIG_SINK_PORT "$P_SINK"
        env_line RIG_SINK_NOPIPE_PORT "$P_SINK_NOPIPE"
        env_line RIG_SINK_DUMP_PORT "$P_SINK_DUMP"
        env_line RIG_SINK_DUMP_DIR "$SINK_DUMP"
        if extras_on; then
            echo
            dovecot_env
            echo
            exim_env
        fi
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# commands

MESSAGE_SIZE_LIMIT=134217728   # 128 MiB; smtpd wants 1.5 times this free in the queue file system

do_start() {
    local servers=all
    case "${1:-}" in
        '') ;;
        --core) servers=core ;;
        *) echo "usage: $0 start [--core]" >&2; exit 2 ;;
    esac
    [ "$(id -u)" -eq 0 ] || { say "must run as root (Postfix starts only as root)"; exit 1; }
    if [[ "$RIG_DIR" == *$'\n'* ]]; then
        say "RIG_DIR must not contain a newline (rig.env holds one variable per line)"
        exit 1
    fi

    if ! [[ "$SASL_PASSWORD" =~ ^[A-Za-z0-9._+=-]+$ ]]; then
        say "RIG_SASL_PASSWORD may hold only letters, digits and . _ + = - (it goes into Postfix's sasldb and rig.env)"
        exit 1
    fi

    "$REPO/scripts/install-deps.sh" libssl-dev libuv1-dev postfix sasl2-bin libsasl2-modules swaks \
        || { say "FAILED: scripts/install-deps.sh"; exit 1; }
    if [ "$servers" = all ]; then
        install_dovecot
        ensure_exim_user
    fi

    mkdir -p "$RIG_DIR"
    do_stop

    rm -rf "$SPOOL" "$LOGS" "$RUN"
    # do_stop removed STATE; a plain mkdir fails if anyone made it again since.
    mkdir -m 755 "$STATE" || { say "FAILED: could not create $STATE"; exit 1; }
    mkdir -p "$CERTS" "$PF" "$SPOOL" "$SINK_DUMP" "$LOGS" "$RUN"
    echo "$PORT_BASE" >"$RUN/port-base"
    echo "$servers" >"$RUN/servers"
    local all_ports="$CORE_PORTS"
    if [ "$servers" = all ]; then
        all_ports="$all_ports $P_DOVECOT_LMTP $EXIM_PORTS"
        # Before anything starts: needs the network only when the cache is missing.
        install_exim || die "could not unpack Exim (see above)"
    fi

    # Every port must be free now that our previous rig is gone.
    local port busy=""
    for port in $all_ports; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then busy="$busy $port"; fi
    done
    if [ -n "$busy" ]; then
        say "FAILED: port(s)$busy on 127.0.0.1 already in use by something else"
        if command -v ss >/dev/null; then
            local alt="${busy# }"
            ss -ltnp 2>/dev/null | grep -E ":(${alt// /|})\b" >&2 || true
        fi
        say "set RIG_PORT_BASE to another base (now $PORT_BASE) or stop that process"
        exit 1
    fi

    "$PYTHON" "$RIG_SCRIPTS/certs.py" "$CERTS" >"$LOGS/certs.log" 2>&1 \
        || { cat "$LOGS/certs.log" >&2; die "certificate generation failed"; }
    mkdir -p "$CERTS/ca-dir"
    cp "$CERTS/ca.crt" "$CERTS/ca-dir/rig-ca.pem"
    openssl rehash "$CERTS/ca-dir" >/dev/null 2>&1 || die "openssl rehash $CERTS/ca-dir failed"

    local avail_kb
    avail_kb="$(df -Pk "$STATE" | awk 'NR==2 {print $4}')"
    if [ -n "$avail_kb" ] && [ "$avail_kb" -lt $((MESSAGE_SIZE_LIMIT * 2 / 1024)) ]; then
        say "warning: only ${avail_kb} KiB free under $STATE; Postfix answers 452 (insufficient"
        say "warning: system storage) when less than 1.5 x message_size_limit is free"
    fi

    write_postfix_config
    start_postfix

    start_bg aiosmtpd "$LOGS/aiosmtpd.log" "$PYTHON" "$RIG_SCRIPTS/aiosmtpd_server.py" \
        --port "$P_AIOSMTPD" --cert "$CERTS/server.crt" --key "$CERTS/server.key" \
        --spool "$SPOOL" --user "$SASL_USER" --password "$SASL_PASSWORD"

    chown nobody "$SINK_DUMP"
    # A listen backlog as deep as the kernel allows: 1,000 clients connecting at once overflow a
    # backlog of 256, and a connection whose handshake the kernel then drops looks established to
    # the client, which waits for a greeting until its timeout (RFC 5321: 5 minutes).
    SINK_BACKLOG=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 4096)
    start_bg sink "$LOGS/sink.log" smtp-sink -u nobody "127.0.0.1:$P_SINK" "$SINK_BACKLOG"
    start_bg sink-nopipe "$LOGS/sink-nopipe.log" smtp-sink -u nobody -p "127.0.0.1:$P_SINK_NOPIPE" "$SINK_BACKLOG"
    start_bg sink-dump "$LOGS/sink-dump.log" smtp-sink -u nobody -d "$SINK_DUMP/%Y%m%d%H%M%S." \
        "127.0.0.1:$P_SINK_DUMP" "$SINK_BACKLOG"
    if [ "$servers" = all ]; then
        start_dovecot
        start_exim
    fi

    if ! probe "$WAIT_SECONDS"; then
        die "not every server came up (see above)"
    fi

    write_env
    say "up: Postfix :$P_STARTTLS (STARTTLS) :$P_SUBMISSION (submission) :$P_IMPLICIT (implicit TLS)" \
        ":$P_PLAIN_AUTH (AUTH without TLS) :$P_NOTLS (no TLS) :$P_EXPIRED-$P_UNTRUSTED (bad certificates);" \
        "aiosmtpd :$P_AIOSMTPD; smtp-sink :$P_SINK :$P_SINK_NOPIPE (no PIPELINING) :$P_SINK_DUMP (dumps)"
    if [ "$servers" = all ]; then
        say "up: Dovecot LMTP :$P_DOVECOT_LMTP and $DV_LMTP_SOCKET; Exim :$P_EXIM (STARTTLS, AUTH)" \
            ":$P_EXIM_PER_CONNECTION (5 messages per connection) :$P_EXIM_RCPT_MAX (3 recipients per message)"
    fi
    say "environment: . $ENV_FILE"
}

do_status() {
    local ok=0 pid name
    if pid="$(master_pid)"; then
        echo "postfix        running (master pid $pid, $(postfix_pids | wc -l) processes, config $PF_CONF)"
    else
        echo "postfix        not running"; ok=1
    fi
    local names="aiosmtpd sink sink-nopipe sink-dump"
    if extras_on; then names="$names dovecot $EXIM_INSTANCES"; fi
    for name in $names; do
        pid="$(cat "$RUN/$name.pid" 2>/dev/null || true)"
        if alive "$pid"; then
            printf '%-14s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-14s not running\n' "$name"; ok=1
        fi
    done
    if [ "$ok" -eq 0 ]; then
        if probe 3; then
            echo "every port greets; environment in $ENV_FILE"
        else
            ok=1
        fi
    fi
    return "$ok"
}

case "${1:-}" in
    start) shift; do_start "$@" ;;
    stop) do_stop; say "stopped" ;;
    status) do_status ;;
    *) echo "usage: $0 start [--core]|stop|status" >&2; exit 2 ;;
esac
