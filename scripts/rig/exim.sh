# The rig's Exim 4 (sourced by rig.sh, which defines STATE, CERTS, LOGS, RUN, PORT_BASE, REPO,
# say, die, start_bg, stop_pidfile, env_line). exim4-daemon-heavy is an MTA package: installing it
# would remove Postfix. So it is never installed: `apt-get download` + `dpkg -x` unpack it into a
# cache shared by every rig (EXIM_CACHE, kept across stops), and the unpacked binary runs as root
# with its own config (-C) and spool, log and maildir under $STATE/exim/<instance>.
#
# Instances (one daemon and config each; all offer PIPELINING, CHUNKING, 8BITMIME, SMTPUTF8,
# STARTTLS with the rig's server.crt, and AUTH PLAIN/LOGIN only after TLS):
#   exim            RIG_EXIM_PORT                 no further limits
#   exim-per-conn   RIG_EXIM_PER_CONNECTION_PORT  smtp_accept_max_per_connection = 5 (421, closes)
#   exim-rcpt-max   RIG_EXIM_RCPT_MAX_PORT        recipients_max = 3 (452 to further RCPTs)
# Each delivers every accepted message (any recipient) to its own maildir, CRLF line ends kept.

EXIM_PACKAGE=exim4-daemon-heavy
# Libraries the unpacked binary links against that a Postfix machine may lack (not MTAs).
EXIM_LIB_PACKAGES="libmariadb3 libidn12 libspf2-2"
EXIM_CACHE_ROOT=/var/tmp/smtp-rig-cache
EXIM_CACHE="$EXIM_CACHE_ROOT/$EXIM_PACKAGE"
EXIM_BIN="$EXIM_CACHE/usr/sbin/exim4"
# The Debian binary looks this user up by name before it reads any config: it must exist.
EXIM_USER=Debian-exim
EXIM="$STATE/exim"
EXIM_AUTH_USER="exim-user@test.local"
EXIM_AUTH_PASSWORD="exim-Passw0rd-7"
P_EXIM=$((PORT_BASE + 70))
P_EXIM_PER_CONNECTION=$((PORT_BASE + 71))
P_EXIM_RCPT_MAX=$((PORT_BASE + 72))
EXIM_PORTS="$P_EXIM $P_EXIM_PER_CONNECTION $P_EXIM_RCPT_MAX"
EXIM_INSTANCES="exim exim-per-conn exim-rcpt-max"
EXIM_PER_CONNECTION_LIMIT=5
EXIM_RCPT_MAX=3

# ensure_exim_user: the system user and group exim4-base would create, made once if missing.
ensure_exim_user() {
    getent passwd "$EXIM_USER" >/dev/null && return 0
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin "$EXIM_USER" \
        || { say "FAILED: could not create the system user $EXIM_USER"; exit 1; }
    say "created the system user $EXIM_USER (the unpacked Exim binary requires it)"
}

# install_exim: the libraries through install-deps.sh, then the unpacked package in EXIM_CACHE
# unless it is there already (then no network is needed). Unpacked beside the cache and renamed
# into place, so a half-done unpack is never used.
install_exim() {
    # shellcheck disable=SC2086
    "$REPO/scripts/install-deps.sh" $EXIM_LIB_PACKAGES || { say "FAILED: installing $EXIM_LIB_PACKAGES"; return 1; }
    if [ -e "$EXIM_CACHE_ROOT" ] || [ -L "$EXIM_CACHE_ROOT" ]; then
        if ! [ -d "$EXIM_CACHE_ROOT" ] || [ -L "$EXIM_CACHE_ROOT" ] || [ "$(stat -c %u "$EXIM_CACHE_ROOT")" != 0 ]; then
            say "$EXIM_CACHE_ROOT is not a root-owned directory; not using it"
            return 1
        fi
    else
        mkdir -m 755 "$EXIM_CACHE_ROOT" || return 1
    fi
    if ! [ -x "$EXIM_BIN" ]; then
        local tmp log="$LOGS/exim-download.log"
        tmp="$(mktemp -d "$EXIM_CACHE_ROOT/.unpack-XXXXXX")"
        chmod 755 "$tmp"
        say "downloading $EXIM_PACKAGE into $EXIM_CACHE (apt-get download; not installed)"
        if ! (cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$EXIM_PACKAGE") >"$log" 2>&1; then
            # No package lists yet (a fresh container): fetch them once and try again.
            apt-get update -qq >>"$log" 2>&1 || true
            if ! (cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$EXIM_PACKAGE") >>"$log" 2>&1; then
                cat "$log" >&2; rm -rf "$tmp"
                say "apt-get download $EXIM_PACKAGE failed"
                return 1
            fi
        fi
        dpkg -x "$tmp"/"$EXIM_PACKAGE"_*.deb "$tmp/root" >>"$log" 2>&1 \
            || { cat "$log" >&2; rm -rf "$tmp"; say "dpkg -x failed"; return 1; }
        # Another rig may have unpacked it meanwhile: then its copy stays.
        mv -T "$tmp/root" "$EXIM_CACHE" 2>/dev/null || true
        rm -rf "$tmp"
    fi
    local missing
    missing="$(ldd "$EXIM_BIN" 2>&1 | grep 'not found' || true)"
    if [ -n "$missing" ]; then
        say "$EXIM_BIN lacks libraries:"; echo "$missing" >&2
        return 1
    fi
}

# write_exim_config NAME PORT EXTRA_MAIN_OPTIONS
write_exim_config() {
    local name="$1" port="$2" extra="$3" dir="$EXIM/$1"
    mkdir -p "$dir/spool" "$dir/log" "$dir/mail"
    chown "$EXIM_USER:$EXIM_USER" "$dir/spool" "$dir/log" "$dir/mail"
    cat >"$dir/exim.conf" <<EOF
# Exim instance "$name" of the test rig (scripts/rig/exim.sh). Delivers to $dir/mail/Maildir.
exim_path = $EXIM_BIN
exim_user = $EXIM_USER
exim_group = $EXIM_USER
never_users = root
spool_directory = $dir/spool
log_file_path = $dir/log/%slog
pid_file_path = $dir/exim.pid
keep_environment =
primary_hostname = exim.test.local
qualify_domain = test.local
local_interfaces = <; 127.0.0.1.$port
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
deliver_drop_privilege = true
message_logs = false
message_size_limit = 64M
smtp_accept_max = 200
smtp_accept_queue_per_connection = 0

pipelining_advertise_hosts = *
chunking_advertise_hosts = *
smtputf8_advertise_hosts = *
accept_8bitmime = true
tls_advertise_hosts = *
tls_certificate = $EXIM/certs/server.crt
tls_privatekey = $EXIM/certs/server.key
# AUTH is offered only once TLS is up.
auth_advertise_hosts = \${if def:tls_in_cipher {*}{}}
$extra

acl_smtp_rcpt = acl_rcpt

begin acl

acl_rcpt:
  accept hosts = 127.0.0.1
  deny message = relay not permitted

begin routers

everything:
  driver = accept
  transport = maildir

begin transports

maildir:
  driver = appendfile
  directory = $dir/mail/Maildir
  maildir_format = true
  create_directory = true
  directory_mode = 0755
  mode = 0644
  use_crlf = true
  delivery_date_add = false
  envelope_to_add = false
  return_path_add = false
  user = $EXIM_USER
  group = $EXIM_USER

begin retry

*  *  F,1m,1m

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{$EXIM_AUTH_USER}}{eq{\$auth3}{$EXIM_AUTH_PASSWORD}}}}
  server_set_id = \$auth2

login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = "Username:: : Password::"
  server_condition = \${if and {{eq{\$auth1}{$EXIM_AUTH_USER}}{eq{\$auth2}{$EXIM_AUTH_PASSWORD}}}}
  server_set_id = \$auth1
EOF
    chmod 644 "$dir/exim.conf"
}

start_exim() {
    mkdir -p "$EXIM/certs"
    # Exim reads the key after it gave up root: a copy its user owns.
    install -m 644 "$CERTS/server.crt" "$EXIM/certs/server.crt"
    install -m 600 -o "$EXIM_USER" -g "$EXIM_USER" "$CERTS/server.key" "$EXIM/certs/server.key"
    write_exim_config exim "$P_EXIM" ""
    write_exim_config exim-per-conn "$P_EXIM_PER_CONNECTION" \
        "smtp_accept_max_per_connection = $EXIM_PER_CONNECTION_LIMIT"
    write_exim_config exim-rcpt-max "$P_EXIM_RCPT_MAX" "recipients_max = $EXIM_RCPT_MAX"
    local name
    for name in $EXIM_INSTANCES; do
        "$EXIM_BIN" -C "$EXIM/$name/exim.conf" -bV >"$LOGS/$name-check.log" 2>&1 \
            || { cat "$LOGS/$name-check.log" >&2; die "Exim refuses $EXIM/$name/exim.conf"; }
        # -bdf: the daemon in the foreground, so the pid file holds its own pid.
        start_bg "$name" "$LOGS/$name.log" "$EXIM_BIN" -C "$EXIM/$name/exim.conf" -bdf
    done
}

stop_exim() {
    local name
    for name in $EXIM_INSTANCES; do
        stop_pidfile "$RUN/$name.pid" "exim4"
        if [ -f "$EXIM/$name/log/mainlog" ]; then cp "$EXIM/$name/log/mainlog" "$LOGS/$name-mainlog"; fi
    done
}

exim_logs_tail() {
    local name
    for name in $EXIM_INSTANCES; do
        tail_log "$EXIM/$name/log/mainlog" 10
        tail_log "$EXIM/$name/log/paniclog" 10
        tail_log "$LOGS/$name.log" 10
    done
}

exim_probe_args() {
    local pid
    pid="$(cat "$RUN/exim.pid" 2>/dev/null || echo 0)"
    echo "exim=$P_EXIM@$pid"
    pid="$(cat "$RUN/exim-per-conn.pid" 2>/dev/null || echo 0)"
    echo "exim-per-conn=$P_EXIM_PER_CONNECTION@$pid"
    pid="$(cat "$RUN/exim-rcpt-max.pid" 2>/dev/null || echo 0)"
    echo "exim-rcpt-max=$P_EXIM_RCPT_MAX@$pid"
}

exim_env() {
    env_line RIG_EXIM_BIN "$EXIM_BIN"
    env_line RIG_EXIM_PORT "$P_EXIM"
    env_line RIG_EXIM_MAILDIR "$EXIM/exim/mail/Maildir"
    env_line RIG_EXIM_MAINLOG "$EXIM/exim/log/mainlog"
    env_line RIG_EXIM_AUTH_USER "$EXIM_AUTH_USER"
    env_line RIG_EXIM_AUTH_PASSWORD "$EXIM_AUTH_PASSWORD"
    env_line RIG_EXIM_PER_CONNECTION_PORT "$P_EXIM_PER_CONNECTION"
    env_line RIG_EXIM_PER_CONNECTION_LIMIT "$EXIM_PER_CONNECTION_LIMIT"
    env_line RIG_EXIM_PER_CONNECTION_MAILDIR "$EXIM/exim-per-conn/mail/Maildir"
    env_line RIG_EXIM_PER_CONNECTION_MAINLOG "$EXIM/exim-per-conn/log/mainlog"
    env_line RIG_EXIM_RCPT_MAX_PORT "$P_EXIM_RCPT_MAX"
    env_line RIG_EXIM_RCPT_MAX "$EXIM_RCPT_MAX"
    env_line RIG_EXIM_RCPT_MAX_MAILDIR "$EXIM/exim-rcpt-max/mail/Maildir"
    env_line RIG_EXIM_RCPT_MAX_MAINLOG "$EXIM/exim-rcpt-max/log/mainlog"
}
