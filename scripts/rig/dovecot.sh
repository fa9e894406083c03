# The rig's Dovecot LMTP server (sourced by rig.sh, which defines STATE, LOGS, RUN, PORT_BASE,
# say, die, start_bg, stop_pidfile). A rig-owned instance with its own config, base_dir and
# maildirs under $STATE/dovecot; the system's Dovecot service and /etc/dovecot are never used.
#
#   RIG_DOVECOT_USER       stores everything (no quota)
#   RIG_DOVECOT_TINY_USER  quota of RIG_DOVECOT_TINY_QUOTA bytes: a larger message gets 552 after DATA
#   any other recipient    550 at RCPT (unknown user)

DV="$STATE/dovecot"
DV_CONF="$DV/dovecot.conf"
DV_USERS="$DV/users"
DV_BASE="$DV/run"
DV_MAIL="$DV/mail"
DV_LOG="$DV/dovecot.log"
DV_LMTP_SOCKET="$DV_BASE/lmtp"
P_DOVECOT_LMTP=$((PORT_BASE + 80))
DOVECOT_USER="bob@test.local"
DOVECOT_TINY_USER="tiny@test.local"
DOVECOT_TINY_QUOTA=1024
DOVECOT_UNKNOWN_USER="nobody-here@test.local"
DOVECOT_PACKAGES="dovecot-core dovecot-lmtpd"

# install_dovecot: the packages through install-deps.sh (which stops and disables the system
# service when it installs them; the rig never uses it).
install_dovecot() {
    # shellcheck disable=SC2086
    "$REPO/scripts/install-deps.sh" $DOVECOT_PACKAGES || { say "FAILED: installing $DOVECOT_PACKAGES"; exit 1; }
}

write_dovecot_config() {
    local uid gid
    uid="$(id -u nobody)"; gid="$(id -g nobody)"
    mkdir -p "$DV" "$DV_MAIL/bob" "$DV_MAIL/tiny"
    chown "$uid:$gid" "$DV_MAIL/bob" "$DV_MAIL/tiny"
    # passwd-file: user:password:uid:gid:gecos:home:shell:extra fields. Only the userdb matters
    # for LMTP; the passdb is there because Dovecot's auth process wants one.
    cat >"$DV_USERS" <<EOF
$DOVECOT_USER:{PLAIN}rig-lmtp:$uid:$gid::$DV_MAIL/bob::
$DOVECOT_TINY_USER:{PLAIN}rig-lmtp:$uid:$gid::$DV_MAIL/tiny::userdb_quota_rule=*:storage=${DOVECOT_TINY_QUOTA}B
EOF
    chmod 644 "$DV_USERS"
    cat >"$DV_CONF" <<EOF
# Dovecot LMTP of the test rig (scripts/rig/dovecot.sh). Not the system's Dovecot.
instance_name = smtp-rig-dovecot-${STATE##*-}
base_dir = $DV_BASE
state_dir = $DV/state
log_path = $DV_LOG
info_log_path = $DV_LOG
protocols = lmtp
listen = 127.0.0.1
hostname = lmtp.test.local
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:~/Maildir
# Stored as received: CRLF line ends, no Received: or Delivered-To: added. Dovecot still puts
# "Return-Path: <sender>" + CRLF first.
mail_save_crlf = yes
lmtp_add_received_header = no
lmtp_hdr_delivery_address = none
mail_plugins = quota
lmtp_rcpt_check_quota = no
passdb {
  driver = passwd-file
  args = $DV_USERS
}
userdb {
  driver = passwd-file
  args = $DV_USERS
}
plugin {
  quota = maildir:User quota
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $P_DOVECOT_LMTP
  }
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
}

start_dovecot() {
    write_dovecot_config
    start_bg dovecot "$LOGS/dovecot.log" dovecot -F -c "$DV_CONF"
}

stop_dovecot() {
    stop_pidfile "$RUN/dovecot.pid" "dovecot"
    if [ -f "$DV_LOG" ]; then cp "$DV_LOG" "$LOGS/dovecot-log"; fi
}

# The names wait_ports.py probes (LMTP greets with 220 like SMTP).
dovecot_probe_args() {
    local pid
    pid="$(cat "$RUN/dovecot.pid" 2>/dev/null || echo 0)"
    echo "dovecot-lmtp=$P_DOVECOT_LMTP@$pid" "dovecot-lmtp-socket=unix:$DV_LMTP_SOCKET@$pid"
}

dovecot_env() {
    env_line RIG_DOVECOT_LMTP_PORT "$P_DOVECOT_LMTP"
    env_line RIG_DOVECOT_LMTP_SOCKET "$DV_LMTP_SOCKET"
    env_line RIG_DOVECOT_MAIL_DIR "$DV_MAIL"
    env_line RIG_DOVECOT_USER "$DOVECOT_USER"
    env_line RIG_DOVECOT_USER_MAILDIR "$DV_MAIL/bob/Maildir"
    env_line RIG_DOVECOT_TINY_USER "$DOVECOT_TINY_USER"
    env_line RIG_DOVECOT_TINY_MAILDIR "$DV_MAIL/tiny/Maildir"
    env_line RIG_DOVECOT_TINY_QUOTA "$DOVECOT_TINY_QUOTA"
    env_line RIG_DOVECOT_UNKNOWN_USER "$DOVECOT_UNKNOWN_USER"
    env_line RIG_DOVECOT_LOG "$DV_LOG"
}
