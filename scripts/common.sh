# shellcheck shell=bash
# What the station's install (scripts/install.sh) and the ward server's
# (scripts/ward-install.sh) share. Sourced by them; needs log, as_root, $HERE, $PYTHON.

# copy_checkout PREFIX: this checkout (without venv, git and caches) to PREFIX/src,
# swapped in at once (a failed copy leaves the old code in place).
copy_checkout() {
  local prefix="$1" new="$1/src.new"
  log "copying the code to $prefix/src"
  as_root rm -rf "$new"
  as_root install -d -m 0755 "$prefix" "$new"
  tar -C "$HERE" --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache \
    --exclude=.hypothesis --exclude=./demo-out -cf - . | as_root tar -C "$new" -xf -
  as_root rm -rf "$prefix/src"
  as_root mv "$new" "$prefix/src"
}

# venv_install VENV SRC SPEC [VENV OPTION...]: make VENV (with the options) if it is
# missing, install SPEC (SRC with its extras), then SRC itself again (an upgrade in place
# with an unchanged version number), and compile the bytecode (the units run with a
# read-only venv and PYTHONDONTWRITEBYTECODE=1: else every start would compile again).
venv_install() {
  local venv="$1" src="$2" spec="$3"
  shift 3
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv${*:+ ($*)}"
    as_root "$PYTHON" -m venv "$@" "$venv"
  fi
  log "installing $spec into $venv"
  as_root "$venv/bin/python" -m pip install -q --upgrade pip
  as_root "$venv/bin/python" -m pip install -q "$spec"
  as_root "$venv/bin/python" -m pip install -q --no-deps --force-reinstall "$src"
  as_root "$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null
}
