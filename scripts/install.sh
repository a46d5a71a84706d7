# shellcheck shell=bash
# Install / uninstall the station as a systemd service on Raspberry Pi OS (bookworm,
# Pi 4 and Pi 5). Sourced by setup.sh (`./setup.sh install|uninstall`), which provides
# log, die, as_root, apt_install, $HERE (the checkout) and $PYTHON.
#
#   code    /opt/station/src        (a copy of the checkout; replaced on upgrade)
#   venv    /opt/station/.venv      (--system-site-packages: python3-picamera2 from apt)
#   config  /etc/station/station.toml   (written once, never overwritten)
#   data    /var/lib/station        (outbox, station key pair, trust anchors: kept)
#   audit   /var/log/station        (kept)
#   unit    /etc/systemd/system/station.service
#
# Every step that needs a Raspberry Pi or a running systemd is behind a small guard
# function and is skipped with a message elsewhere. Test hooks (environment):
#   STATION_ROOT          prefix for every system path (install into a fake root)
#   STATION_FAKE_MODEL    device-tree model string (e.g. "Raspberry Pi 5 Model B Rev 1.0")
#   STATION_SYSTEMCTL     systemctl command to use      (default: systemctl)
#   STATION_RASPI_CONFIG  raspi-config command to use   (default: raspi-config)

# shellcheck source=scripts/common.sh
source "$HERE/scripts/common.sh"

STATION_USER=station
STATION_GROUPS=(video i2c spi gpio) # camera+dma_heap, OLED on I2C, OLED on SPI, GPIO
STATION_APT=(pcscd python3-pyscard python3-venv fonts-dejavu-core mosquitto-clients openssl ca-certificates)
STATION_APT_PI=(python3-picamera2 i2c-tools)
POLKIT_ACTION=usr/share/polkit-1/actions/org.debian.pcsc-lite.policy

st_root() { printf '%s' "${STATION_ROOT:-}"; }
st_prefix() { printf '%s/opt/station' "$(st_root)"; }
st_etc() { printf '%s/etc/station' "$(st_root)"; }
st_data() { printf '%s/var/lib/station' "$(st_root)"; }
st_logs() { printf '%s/var/log/station' "$(st_root)"; }
st_unit() { printf '%s/etc/systemd/system/station.service' "$(st_root)"; }
st_polkit_rule() { printf '%s/etc/polkit-1/rules.d/60-pcscd-station.rules' "$(st_root)"; }
# systemctl as root; with --root=<fake root> when one is set (offline enable/disable).
st_systemctl() {
  local cmd=("${STATION_SYSTEMCTL:-systemctl}")
  [ -n "$(st_root)" ] && cmd+=(--root="$(st_root)")
  as_root "${cmd[@]}" "$@"
}

# --- guards (each one small and testable through the hooks above) -------------

pi_model() {
  if [ -n "${STATION_FAKE_MODEL+x}" ]; then printf '%s' "$STATION_FAKE_MODEL"; return; fi
  local f
  for f in /proc/device-tree/model /sys/firmware/devicetree/base/model; do
    [ -r "$(st_root)$f" ] && { tr -d '\0' <"$(st_root)$f"; return 0; }
  done
  return 0
}
is_pi() { [[ "$(pi_model)" == *"Raspberry Pi"* ]]; }
# Pi 5, Pi 500 and CM5 have the RP1 GPIO chip: RPi.GPIO does not work, rpi-lgpio does.
is_pi5() { [[ "$(pi_model)" =~ Raspberry\ Pi\ (5|500|Compute\ Module\ 5) ]]; }
has_systemd() { [ -d "$(st_root)/run/systemd/system" ]; }
has_systemctl() { command -v "${STATION_SYSTEMCTL:-systemctl}" >/dev/null; }
has_raspi_config() { command -v "${STATION_RASPI_CONFIG:-raspi-config}" >/dev/null; }
pcscd_uses_polkit() { [ -f "$(st_root)/$POLKIT_ACTION" ]; }
group_exists() {
  if [ -n "$(st_root)" ]; then grep -q "^$1:" "$(st_root)/etc/group"; else getent group "$1" >/dev/null; fi
}
user_exists() {
  if [ -n "$(st_root)" ]; then grep -q "^$1:" "$(st_root)/etc/passwd"; else getent passwd "$1" >/dev/null; fi
}
# "uid:gid" of the station user (from the prefixed passwd file in a fake root).
station_owner() {
  if [ -n "$(st_root)" ]; then
    awk -F: -v u="$STATION_USER" '$1 == u { print $3 ":" $4 }' "$(st_root)/etc/passwd"
  else printf '%s:%s' "$STATION_USER" "$STATION_USER"; fi
}
venv_extras() { if is_pi5; then echo pi5; elif is_pi; then echo pi; fi; }

# --- steps --------------------------------------------------------------------

install_packages() {
  apt_install "${STATION_APT[@]}"
  if is_pi; then apt_install "${STATION_APT_PI[@]}"; else
    log "not a Raspberry Pi: skipping ${STATION_APT_PI[*]}"; fi
}

enable_buses() {
  if ! is_pi; then log "not a Raspberry Pi: skipping I2C/SPI enable"; return 0; fi
  if ! has_raspi_config; then log "raspi-config not found: enable I2C and SPI by hand"; return 0; fi
  log "enabling I2C and SPI (raspi-config)"
  as_root "${STATION_RASPI_CONFIG:-raspi-config}" nonint do_i2c 0
  as_root "${STATION_RASPI_CONFIG:-raspi-config}" nonint do_spi 0
}

create_user() {
  local prefix=() g
  [ -n "$(st_root)" ] && prefix=(--prefix "$(st_root)")
  if ! user_exists "$STATION_USER"; then
    log "creating system user $STATION_USER"
    as_root useradd "${prefix[@]}" --system --user-group --home-dir /var/lib/station \
      --no-create-home --shell /usr/sbin/nologin "$STATION_USER"
  fi
  for g in "${STATION_GROUPS[@]}"; do
    if group_exists "$g"; then as_root usermod "${prefix[@]}" -a -G "$g" "$STATION_USER"; else
      log "group $g does not exist here: not added"; fi
  done
}

make_dirs() {
  local owner trust
  owner="$(station_owner)"
  trust="$(st_data)/trust"
  as_root install -d -m 0755 "$(st_etc)"
  as_root install -d -m 0700 "$(st_data)"
  as_root install -d -m 0750 "$(st_logs)"
  as_root chown "$owner" "$(st_data)" "$(st_logs)"
  # The trust anchors are root's: the service reads them (and ReadOnlyPaths= in the
  # unit), only `sudo station trust import` changes them. An older install left them
  # to the station user: taken back here.
  as_root install -d -m 0755 "$trust"
  as_root chown -R 0:0 "$trust"
  as_root find "$trust" -type d -exec chmod 0755 {} +
  as_root find "$trust" -type f -exec chmod 0644 {} +
}

install_code() { copy_checkout "$(st_prefix)"; }

make_service_venv() {
  local extras
  extras="$(venv_extras)"
  venv_install "$(st_prefix)/.venv" "$(st_prefix)/src" "$(st_prefix)/src${extras:+[$extras]}" \
    --system-site-packages
}

install_config() {
  local cfg station
  cfg="$(st_etc)/station.toml"
  station="$(st_prefix)/.venv/bin/station"
  if [ -f "$cfg" ]; then log "keeping the existing config $cfg"; return 0; fi
  log "writing the default config $cfg"
  local text
  if "$station" config --help >/dev/null 2>&1; then text="$("$station" config --defaults)"; else
    text="$("$(st_prefix)/.venv/bin/python" -c \
      'from station.config import render_defaults; print(render_defaults())')"; fi
  if is_pi; then text="$(sed '0,/^hardware = "sim"$/s//hardware = "pi"/' <<<"$text")"; fi
  # the audit log goes to the unit's LogsDirectory= (when this build has the option)
  text="$(sed '0,/^audit_log = ""$/s##audit_log = "/var/log/station/audit.log"#' <<<"$text")"
  printf '%s\n' "$text" | as_root tee "$cfg.new" >/dev/null
  as_root chown "0:$(station_owner | cut -d: -f2)" "$cfg.new"
  as_root chmod 0640 "$cfg.new"
  as_root mv "$cfg.new" "$cfg"
}

generate_keys() {
  local key pub station
  key="$(st_data)/station_ed25519.key"
  pub="$(st_data)/station_ed25519.pub"
  station="$(st_prefix)/.venv/bin/station"
  # as root: a non-root caller (sudo) cannot look into the 0700 data folder
  if as_root test -f "$key"; then log "keeping the station key pair $key"; return 0; fi
  if "$station" keygen --help >/dev/null 2>&1; then
    log "generating the station key pair (station keygen)"
    as_root "$station" keygen --config "$(st_etc)/station.toml" --data-dir "$(st_data)" >&2
  else
    log "generating the station key pair (openssl)"
    (umask 077 && as_root openssl genpkey -algorithm ed25519 -out "$key.new")
    as_root sh -c "openssl pkey -in '$key.new' -pubout -outform DER | tail -c 32 | base64 >'$pub'"
    as_root mv "$key.new" "$key"
  fi
  as_root chown "$(station_owner)" "$key" "$pub"
  as_root chmod 0600 "$key"
  as_root chmod 0644 "$pub"
}

install_unit() {
  local unit_dir
  unit_dir="$(dirname "$(st_unit)")"
  as_root install -d -m 0755 "$unit_dir"
  as_root install -m 0644 "$HERE/systemd/station.service" "$(st_unit)"
  if pcscd_uses_polkit; then
    log "pcscd uses polkit: allowing user $STATION_USER to use readers"
    as_root install -d -m 0755 "$(dirname "$(st_polkit_rule)")"
    as_root install -m 0644 "$HERE/systemd/pcscd-station.rules" "$(st_polkit_rule)"
  else
    log "pcscd does not use polkit here: no rule needed"
  fi
}

enable_unit() {
  if has_systemd; then
    log "enabling and (re)starting station.service"
    st_systemctl daemon-reload
    st_systemctl enable --now pcscd.socket station.service
    st_systemctl restart station.service
  elif has_systemctl; then
    log "systemd is not running: station.service enabled for the next boot, not started"
    st_systemctl enable station.service
  else
    log "no systemd: station.service installed but not enabled"
  fi
}

# The line to run on the ward server, as `station keygen` prints it (the key exists by now).
enrol_line() {
  local station line
  station="$(st_prefix)/.venv/bin/station"
  line="$(as_root "$station" keygen --config "$(st_etc)/station.toml" --data-dir "$(st_data)" \
    2>/dev/null | grep '^station ward enroll ' || true)"
  if [ -z "$line" ]; then  # an old build without keygen: the host name is the default id
    line="station ward enroll $(hostname -s) $(as_root cat "$(st_data)/station_ed25519.pub")"
  fi
  printf '%s' "$line"
}

pi_install() {
  if is_pi; then log "installing on: $(pi_model)"; else
    log "not a Raspberry Pi ($(pi_model || true)): Pi-only steps are skipped"; fi
  install_packages
  enable_buses
  create_user
  make_dirs
  install_code
  make_service_venv
  install_config
  generate_keys
  install_unit
  enable_unit
  local bin
  bin="$(st_prefix | sed "s#^$(st_root)##")/.venv/bin/station"
  log "installed. What is left (docs/admin.md has the whole path, step by step):"
  log "  - set [station] id and [mqtt] in /etc/station/station.toml (sudo nano ...), then"
  log "    print the enrol line again: sudo -u $STATION_USER $bin keygen --config /etc/station/station.toml"
  log "  - check the box: sudo -u $STATION_USER $bin doctor"
  log "  - install the trust anchors (root's): sudo $bin trust import --config /etc/station/station.toml FILE"
  log "  - on the ward server, enrol this station's signing key (with the id set above), and"
  log "    put the ward_key = \"...\" line it prints into [mqtt] of /etc/station/station.toml:"
  log "    $(enrol_line)"
}

pi_uninstall() {
  if has_systemd; then
    st_systemctl disable --now station.service || true
  elif has_systemctl && [ -f "$(st_unit)" ]; then
    st_systemctl disable station.service || true
  fi
  as_root rm -f "$(st_unit)" "$(st_polkit_rule)"
  if has_systemd; then st_systemctl daemon-reload; fi
  as_root rm -rf "$(st_prefix)"
  log "removed the service, its unit, the polkit rule and $(st_prefix) (code and venv)."
  log "kept (personal data and what the law asks to keep):"
  log "  $(st_etc)          config"
  log "  $(st_data)    outbox (records not yet delivered), station key pair, trust anchors"
  log "  $(st_logs)    audit log"
  log "  user $STATION_USER"
  log "to remove them too: sudo rm -rf $(st_etc) $(st_data) $(st_logs) && sudo userdel $STATION_USER"
}
