#!/usr/bin/env bash
# Installs (or upgrades) kkt-gateway on Raspberry Pi OS / Debian (arm64, armhf, amd64) as a systemd service.
#
#   sudo scripts/install.sh              install or upgrade (keeps /etc/kkt-gateway and /var/lib/kkt-gateway)
#   sudo scripts/install.sh --uninstall  remove the service, the app and the udev rule; keeps fiscal data and config
#   sudo scripts/install.sh --uninstall --purge   also removes /var/lib/kkt-gateway and /etc/kkt-gateway
#   scripts/install.sh --dry-run [--prefix DIR]   print what would be done; touch nothing
#
# --prefix DIR (or DESTDIR=DIR) installs under DIR instead of / (for tests and packaging; no systemctl, no useradd).
set -euo pipefail

APP_NAME=kkt-gateway
MIN_NODE=20.19
SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${DESTDIR:-}"
DRY_RUN=0
MODE=install
PURGE=0

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --uninstall) MODE=uninstall ;;
    --purge) PURGE=1 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
    --prefix=*) PREFIX="${1#--prefix=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 64 ;;
  esac
  shift
done
PREFIX="${PREFIX%/}"

APP_DIR="$PREFIX/opt/$APP_NAME"
CONF_DIR="$PREFIX/etc/$APP_NAME"
STATE_DIR="$PREFIX/var/lib/$APP_NAME"
UNIT_FILE="$PREFIX/etc/systemd/system/$APP_NAME.service"
UDEV_FILE="$PREFIX/etc/udev/rules.d/99-$APP_NAME.rules"
# system changes (users, systemctl, udevadm) only for a real install to /
SYSTEM=1
[ -n "$PREFIX" ] && SYSTEM=0

say() { printf '==> %s\n' "$*"; }
# run CMD...: prints it; runs it unless --dry-run
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] %s\n' "$*"
  else
    "$@"
  fi
}
sys() { if [ "$SYSTEM" = 1 ]; then run "$@"; else printf '[skipped: --prefix] %s\n' "$*"; fi; }

version_ge() { # version_ge A B: A >= B
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

check_root() {
  if [ "$DRY_RUN" = 0 ] && [ "$SYSTEM" = 1 ] && [ "$(id -u)" != 0 ]; then
    echo "run as root: sudo $0 $*" >&2
    exit 1
  fi
}

check_node() {
  local v
  if ! command -v node >/dev/null 2>&1; then
    cat >&2 <<MSG
Node.js is not installed. On Raspberry Pi OS / Debian 13 (trixie):  sudo apt-get install -y nodejs npm
On older releases (Debian 12 bookworm ships Node 18, too old) install Node.js ${MIN_NODE} or newer from
NodeSource (https://github.com/nodesource/distributions: setup_22.x, then apt-get install nodejs), then re-run.
MSG
    [ "$DRY_RUN" = 1 ] && return 0
    exit 1
  fi
  v="$(node -p 'process.versions.node')"
  if ! version_ge "$v" "$MIN_NODE"; then
    cat >&2 <<MSG
Node.js $v is too old: kkt-gateway needs ${MIN_NODE} or newer. Debian 12 (bookworm) ships 18.x: install Node.js 22
from NodeSource (https://github.com/nodesource/distributions: setup_22.x, then apt-get install nodejs), or upgrade
to Raspberry Pi OS based on Debian 13 (trixie), whose nodejs package is new enough; then re-run this script.
MSG
    [ "$DRY_RUN" = 1 ] && return 0
    exit 1
  fi
  say "Node.js $v"
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: sudo apt-get install -y npm" >&2
    [ "$DRY_RUN" = 1 ] || exit 1
  fi
}

# build tools for the native addon unix-dgram (sd_notify); the others ship prebuilt binaries
ensure_build_tools() {
  local missing=()
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing build tools: ${missing[*]}"
    sys apt-get update -qq
    sys env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

install_app() {
  say "installing the app to $APP_DIR"
  run mkdir -p "$APP_DIR"
  # the sources and the lockfile; node_modules and test data are rebuilt/kept out
  local item
  for item in bin src drivers systemd scripts docs package.json package-lock.json tsconfig.json README.md; do
    [ -e "$SRC_DIR/$item" ] || continue
    run rm -rf "${APP_DIR:?}/$item"
    run cp -R "$SRC_DIR/$item" "$APP_DIR/$item"
  done
  run chmod 0755 "$APP_DIR/bin/kkt-gateway.js"
  say "installing production dependencies (npm ci --omit=dev)"
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] (cd %s && npm ci --omit=dev --no-audit --no-fund)\n' "$APP_DIR"
  else
    (cd "$APP_DIR" && npm ci --omit=dev --no-audit --no-fund)
    # unix-dgram is an optional dependency (the demo needs no compiler); the service needs it for sd_notify
    if [ -d "$APP_DIR/node_modules" ] && ! (cd "$APP_DIR" && node -e 'require("unix-dgram")' >/dev/null 2>&1); then
      echo "unix-dgram (sd_notify for the systemd service) did not build: sudo apt-get install make g++ python3, then re-run" >&2
      exit 1
    fi
  fi
  # the service runs the bundle (no TypeScript compiled at run time: less memory, faster start)
  say "building dist/kkt-gateway.mjs (npm run build)"
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] (cd %s && npm run build)\n' "$APP_DIR"
  else
    (cd "$APP_DIR" && npm run build)
  fi
}

create_user() {
  if id "$APP_NAME" >/dev/null 2>&1; then
    say "user $APP_NAME exists"
    sys usermod -a -G dialout "$APP_NAME"
  else
    say "creating system user $APP_NAME (group dialout for the serial port)"
    sys useradd --system --user-group --no-create-home --home-dir "/var/lib/$APP_NAME" --shell /usr/sbin/nologin --groups dialout "$APP_NAME"
  fi
  run mkdir -p "$CONF_DIR" "$STATE_DIR"
  sys chown "$APP_NAME:$APP_NAME" "$STATE_DIR"
  sys chown "root:$APP_NAME" "$CONF_DIR"
  run chmod 0750 "$CONF_DIR" "$STATE_DIR"
}

install_units() {
  say "installing the systemd unit and the udev rule"
  run mkdir -p "$(dirname "$UNIT_FILE")" "$(dirname "$UDEV_FILE")"
  run install -m 0644 "$SRC_DIR/systemd/$APP_NAME.service" "$UNIT_FILE"
  run install -m 0644 "$SRC_DIR/systemd/99-$APP_NAME.rules" "$UDEV_FILE"
  sys systemctl daemon-reload
  sys udevadm control --reload-rules
  sys udevadm trigger --subsystem-match=tty --action=add
}

# the register's port: from `kkt-gateway ports` when exactly one supported register is found
detect_port() {
  local regs dir="$APP_DIR"
  [ -d "$APP_DIR/node_modules" ] || dir="$SRC_DIR"
  regs="$(node "$dir/bin/kkt-gateway.js" ports 2>/dev/null | awk '$1 == "[register]" { print $2 }')" || regs=""
  if [ -n "$regs" ] && [ "$(printf '%s\n' "$regs" | wc -l)" = 1 ]; then
    printf '%s' "$regs"
  fi
}

write_config() {
  local file="$CONF_DIR/config.json" port
  if [ -e "$file" ]; then
    say "keeping the configuration $file"
    return 0
  fi
  port="$(detect_port)"
  if [ -n "$port" ]; then
    say "register found: $port"
  else
    port="/dev/serial/by-id/REPLACE-ME"
    say "no single register found: edit \"device.port\" in $file (run: $APP_DIR/bin/kkt-gateway.js ports)"
  fi
  say "writing a starter configuration $file"
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] write %s with device.port %s\n' "$file" "$port"
    return 0
  fi
  umask 027
  cat >"$file" <<JSON
{
  "mqtt": { "url": "mqtt://127.0.0.1:1883" },
  "device": { "port": "$port" }
}
JSON
  sys chown "root:$APP_NAME" "$file"
  chmod 0640 "$file"
}

start_service() {
  say "enabling and (re)starting $APP_NAME"
  sys systemctl enable "$APP_NAME.service"
  # --no-block: READY comes only once the broker is reachable
  sys systemctl restart --no-block "$APP_NAME.service"
}

print_address() {
  local ip
  ip="$(hostname -I 2>/dev/null | awk '{ print $1 }' || true)"
  say "web page: http://${ip:-<this-pi>}:8080"
  say "logs:     journalctl -u $APP_NAME -f -o cat"
}

uninstall() {
  say "removing the service, the app and the udev rule"
  sys systemctl disable --now "$APP_NAME.service"
  run rm -f "$UNIT_FILE" "$UDEV_FILE"
  sys systemctl daemon-reload
  sys udevadm control --reload-rules
  run rm -rf "$APP_DIR"
  if [ "$PURGE" = 1 ]; then
    say "--purge: removing the fiscal data $STATE_DIR and the configuration $CONF_DIR"
    run rm -rf "$STATE_DIR" "$CONF_DIR"
    sys userdel "$APP_NAME"
  else
    say "kept $STATE_DIR (queue and results) and $CONF_DIR; --purge removes them"
  fi
}

check_root "$@"
if [ "$MODE" = uninstall ]; then
  uninstall
  exit 0
fi
check_node
ensure_build_tools
install_app
create_user
install_units
write_config
start_service
print_address
