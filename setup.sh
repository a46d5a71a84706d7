#!/usr/bin/env bash
# CCCD reader station: one entry point to set up and run.
#
#   ./setup.sh demo [ARGS]   install deps + venv, then run the station on simulated hardware
#   ./setup.sh test [ARGS]   install deps + venv (with dev tools), then run the whole test suite
#   ./setup.sh install       install as a systemd service on Raspberry Pi OS (see scripts/install.sh)
#   ./setup.sh uninstall     remove the service (says what data it leaves)
#   ./setup.sh ward-install  install the ward server (receiver + console) on Debian (docs/ward.md)
#   ./setup.sh ward-uninstall  remove the ward service (says what data it leaves)
#   ./setup.sh deps          only install system packages and the venv
#
# Idempotent: running it again only does what is missing. Needs root (or sudo) for apt.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PYTHON="${PYTHON:-python3}"

# Debian packages the station needs off the Pi (demo and tests): PC/SC daemon with the
# virtual reader driver, the MQTT broker, the OLED font, the OCR-B font the synthetic card
# backs are printed in (and the MRZ glyph model is made from), headers to build pyscard; the
# ward console's PDF library needs pango (WeasyPrint; harfbuzz-subset makes it 5x faster).
APT_PACKAGES=(
  ca-certificates python3 python3-venv python3-dev gcc swig pkg-config
  pcscd libpcsclite-dev vsmartcard-vpcd
  mosquitto mosquitto-clients
  fonts-dejavu-core fonts-ocr-b libopenjp2-7 openssl
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
  systemd
)
# Only for the tests: a real browser and its driver (the console), poppler (reads the
# printed PDF), PostgreSQL's server (started by the tests on their own port).
TEST_APT_PACKAGES=(chromium chromium-driver poppler-utils postgresql-15)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root for: $* (run as root or install sudo)"; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
  log "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  local extras="$1" sys_site="${2:-}"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" -V 2>&1))"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv at $VENV"
    "$PYTHON" -m venv $sys_site "$VENV"
  fi
  local stamp="$VENV/.installed-$extras"
  if [ ! -f "$stamp" ] || [ "$HERE/pyproject.toml" -nt "$stamp" ]; then
    log "installing the station into the venv ($extras)"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e "$HERE[$extras]"
    touch "$stamp"
  fi
}

cmd_deps() { apt_install "${APT_PACKAGES[@]}"; ensure_venv dev; }

# The postgresql package makes and starts a cluster "15/main" on port 5432 unless told
# not to; the tests start their own. Say so before it is installed.
no_main_cluster() {
  dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q "install ok installed" && return 0
  as_root mkdir -p /etc/postgresql-common/createcluster.d
  printf 'create_main_cluster = false\n' \
    | as_root tee /etc/postgresql-common/createcluster.d/station-tests.conf >/dev/null
}

cmd_demo() {
  cmd_deps
  log "running the station on simulated hardware (Ctrl-C to stop)"
  exec "$VENV/bin/station" demo "$@"
}

cmd_test() {
  cmd_deps
  no_main_cluster
  apt_install "${TEST_APT_PACKAGES[@]}"
  cd "$HERE"
  log "lint, type checks and import contracts"
  "$VENV/bin/ruff" check station tests bench
  "$VENV/bin/ruff" format --check station tests bench
  "$VENV/bin/mypy" station
  "$VENV/bin/lint-imports" --no-cache
  log "test suite"
  exec "$VENV/bin/python" -m pytest "$@"
}

cmd_install() {
  # shellcheck source=scripts/install.sh
  source "$HERE/scripts/install.sh"
  pi_install
}

cmd_uninstall() {
  # shellcheck source=scripts/install.sh
  source "$HERE/scripts/install.sh"
  pi_uninstall
}

cmd_ward_install() {
  # shellcheck source=scripts/ward-install.sh
  source "$HERE/scripts/ward-install.sh"
  ward_install
}

cmd_ward_uninstall() {
  # shellcheck source=scripts/ward-install.sh
  source "$HERE/scripts/ward-install.sh"
  ward_uninstall
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    demo) cmd_demo "$@" ;;
    test) cmd_test "$@" ;;
    install) cmd_install "$@" ;;
    uninstall) cmd_uninstall "$@" ;;
    ward-install) cmd_ward_install "$@" ;;
    ward-uninstall) cmd_ward_uninstall "$@" ;;
    deps) cmd_deps ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
}

main "$@"
