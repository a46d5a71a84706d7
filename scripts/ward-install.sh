# shellcheck shell=bash
# Install / uninstall the ward server (receiver + console) as a systemd service on Debian
# 12. Sourced by setup.sh (`./setup.sh ward-install|ward-uninstall`), which provides log,
# die, as_root, apt_install, $HERE (the checkout) and $PYTHON.
#
#   code     /opt/ward/src            (a copy of the checkout; replaced on upgrade)
#   venv     /opt/ward/.venv          (the station package with its [ward] extra)
#   settings /etc/ward/ward.env       (written once, never overwritten)
#   TLS      /etc/ward/tls            (root:ward 0750; keys 0640: the service reads them,
#                                      no other user does)
#   data     /var/lib/ward            (the database: ward:ward 0700; kept)
#   audit    /var/log/ward            (kept)
#   unit     /etc/systemd/system/ward.service
#
# The TLS files are taken from /etc/mosquitto/cccd when deploy/mosquitto/make-certs.sh
# made them there: ca.crt, ward.crt/.key (the receiver's MQTT client certificate) and
# server.crt/.key (the ward's server certificate, also the console's).
# Test hooks (environment): WARD_ROOT (prefix for every system path), WARD_SYSTEMCTL.

# shellcheck source=scripts/common.sh
source "$HERE/scripts/common.sh"

WARD_USER=ward
WARD_APT=(python3 python3-venv ca-certificates openssl mosquitto fonts-dejavu-core
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
WARD_CERTS_FROM=/etc/mosquitto/cccd

wd_root() { printf '%s' "${WARD_ROOT:-}"; }
wd_prefix() { printf '%s/opt/ward' "$(wd_root)"; }
wd_etc() { printf '%s/etc/ward' "$(wd_root)"; }
wd_data() { printf '%s/var/lib/ward' "$(wd_root)"; }
wd_logs() { printf '%s/var/log/ward' "$(wd_root)"; }
wd_unit() { printf '%s/etc/systemd/system/ward.service' "$(wd_root)"; }
wd_systemctl() {
  local cmd=("${WARD_SYSTEMCTL:-systemctl}")
  [ -n "$(wd_root)" ] && cmd+=(--root="$(wd_root)")
  as_root "${cmd[@]}" "$@"
}
wd_has_systemd() { [ -d "$(wd_root)/run/systemd/system" ]; }
wd_user_exists() {
  if [ -n "$(wd_root)" ]; then grep -q "^$1:" "$(wd_root)/etc/passwd"; else getent passwd "$1" >/dev/null; fi
}
# "uid:gid" of the ward user (from the prefixed passwd file in a fake root).
wd_owner() {
  if [ -n "$(wd_root)" ]; then
    awk -F: -v u="$WARD_USER" '$1 == u { print $3 ":" $4 }' "$(wd_root)/etc/passwd"
  else printf '%s:%s' "$WARD_USER" "$WARD_USER"; fi
}

ward_user() {
  local prefix=()
  [ -n "$(wd_root)" ] && prefix=(--prefix "$(wd_root)")
  if wd_user_exists "$WARD_USER"; then return 0; fi
  log "creating system user $WARD_USER"
  as_root useradd "${prefix[@]}" --system --user-group --home-dir /var/lib/ward \
    --no-create-home --shell /usr/sbin/nologin "$WARD_USER"
}

ward_dirs() {
  local owner group
  owner="$(wd_owner)"
  group="${owner#*:}"
  as_root install -d -m 0750 -o 0 -g "$group" "$(wd_etc)" "$(wd_etc)/tls"
  as_root install -d -m 0700 "$(wd_data)"
  as_root install -d -m 0750 "$(wd_logs)"
  as_root chown "$owner" "$(wd_data)" "$(wd_logs)"
}

ward_code() { copy_checkout "$(wd_prefix)"; }

ward_venv() { venv_install "$(wd_prefix)/.venv" "$(wd_prefix)/src" "$(wd_prefix)/src[ward]"; }

ward_settings() {
  local env group
  env="$(wd_etc)/ward.env"
  group="$(wd_owner | cut -d: -f2)"
  if [ -f "$env" ]; then log "keeping the existing settings $env"; return 0; fi
  log "writing the default settings $env"
  as_root install -m 0640 -o 0 -g "$group" "$HERE/deploy/ward/ward.env" "$env"
}

# ward_tls: copy the receiver's and the server's certificates made by make-certs.sh.
ward_tls() {
  local from group tls pair src dst
  from="$(wd_root)$WARD_CERTS_FROM"
  group="$(wd_owner | cut -d: -f2)"
  tls="$(wd_etc)/tls"
  if [ ! -f "$from/ward.key" ] || [ ! -f "$from/server.key" ]; then
    log "no certificates in $WARD_CERTS_FROM yet: make them, then run ward-install again:"
    log "  sudo deploy/mosquitto/make-certs.sh $WARD_CERTS_FROM \$(hostname -f) ward STATION_ID..."
    return 0
  fi
  for pair in ca.crt:ca.crt ward.crt:ward.crt ward.key:ward.key server.crt:console.crt \
    server.key:console.key; do
    src="$from/${pair%%:*}"
    dst="$tls/${pair#*:}"
    if [ -f "$dst" ] && cmp -s "$src" "$dst"; then continue; fi
    as_root install -m 0640 -o 0 -g "$group" "$src" "$dst"
  done
  log "TLS files in $tls (keys root:$WARD_USER 0640: readable by the service only)"
}

ward_unit() {
  as_root install -d -m 0755 "$(dirname "$(wd_unit)")"
  as_root install -m 0644 "$HERE/systemd/ward.service" "$(wd_unit)"
  if wd_has_systemd; then
    log "enabling and (re)starting ward.service"
    wd_systemctl daemon-reload
    wd_systemctl enable ward.service
    wd_systemctl restart ward.service
  elif command -v "${WARD_SYSTEMCTL:-systemctl}" >/dev/null; then
    log "systemd is not running: ward.service enabled for the next boot, not started"
    wd_systemctl enable ward.service
  else
    log "no systemd: ward.service installed but not enabled"
  fi
}

ward_install() {
  apt_install "${WARD_APT[@]}"
  ward_user
  ward_dirs
  ward_code
  ward_venv
  ward_settings
  ward_tls
  ward_unit
  local bin="/opt/ward/.venv/bin/station" db="/var/lib/ward/ward.sqlite"
  log "installed. Next, as root:"
  log "  sudo -u $WARD_USER $bin ward user add ADMIN --role admin --db $db"
  log "  sudo -u $WARD_USER $bin ward user add OFFICER --role officer --db $db"
  log "  (on each station: station keygen; here: the 'station ward enroll ...' line it prints,"
  log "   as sudo -u $WARD_USER $bin ward enroll ... --db $db, or on the console's Trạm page)"
  log "then open https://$(hostname -f 2>/dev/null || hostname):8443/ (docs/ward.md)"
}

ward_uninstall() {
  if wd_has_systemd; then
    wd_systemctl disable --now ward.service || true
  elif [ -f "$(wd_unit)" ] && command -v "${WARD_SYSTEMCTL:-systemctl}" >/dev/null; then
    wd_systemctl disable ward.service || true
  fi
  as_root rm -f "$(wd_unit)"
  if wd_has_systemd; then wd_systemctl daemon-reload; fi
  as_root rm -rf "$(wd_prefix)"
  log "removed the service, its unit and $(wd_prefix) (code and venv)."
  log "kept (personal data and what the law asks to keep):"
  log "  $(wd_etc)        settings and TLS files"
  log "  $(wd_data)   the database (every record received)"
  log "  $(wd_logs)   audit log"
  log "  user $WARD_USER"
  log "to remove them too: sudo rm -rf $(wd_etc) $(wd_data) $(wd_logs) && sudo userdel $WARD_USER"
}
