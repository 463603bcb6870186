#!/bin/sh
# The image's entrypoint, so that the image runs as Tetragon's does:
#
#   docker run ... tetragon-appliance                    agent + controller under supervisord
#   docker run ... tetragon-appliance /usr/bin/tetragon --export-filename F
#   docker run ... tetragon-appliance --export-filename F   (the same: flags for the agent)
#   docker run ... tetragon-appliance tetra version      any other command runs once and exits
#
# Flags for the agent are written to $FLAGS and given to both supervised programs (the
# controller reads the agent's setting flags with the same precedence); supervisord then
# starts each through `entrypoint.sh --supervised CMD`, which adds them back. A flag that
# only prints something (--help, --version, --generate-docs) runs the agent once instead;
# flags that do not parse stop the container at once, with the agent's message.
set -eu
FLAGS=/run/tetragon-appliance/flags
SUPERVISORD="/usr/bin/supervisord -c /etc/supervisor/supervisord.conf"

if [ "${1:-}" = --supervised ]; then
  shift
  cmd=$1
  shift
  [ -r "$FLAGS" ] && . "$FLAGS"
  # the agent keeps policies pinned (enforced) across its restarts and upgrades unless
  # the container is given TETRAGON_RELEASE_PINNED_BPF=true or --release-pinned-bpf=true
  export TETRAGON_RELEASE_PINNED_BPF="${TETRAGON_RELEASE_PINNED_BPF:-false}"
  exec "$cmd" "$@"
fi

case "${1:-}" in
  tetragon | /usr/bin/tetragon | /usr/local/bin/tetragon) shift; agent=1 ;;
  -*) agent=1 ;;
  "") agent=1 ;;
  *) agent=0 ;;
esac
if [ "$agent" = 0 ]; then
  exec "$@"
fi
for arg in "$@"; do
  case "$arg" in
    -h | --help | --version | --generate-docs) exec /usr/local/bin/tetragon "$@" ;;
  esac
done

# a flag that does not parse would only make supervisord restart both programs forever
if [ $# -gt 0 ]; then
  /usr/local/lib/tetragon/venv/bin/python - "$@" <<'PY' || exit 2
import sys

from appliance.settings import SettingsError, load_settings

try:
    load_settings(sys.argv[1:], {}, system_dirs=(), yaml_file="/nonexistent/tetragon.yaml")
except SettingsError as e:
    if e.source == "command line" or e.source.startswith("flag "):
        sys.exit(f"tetragon: {e}")
PY
fi

# the flags as a shell `set --` line, each one single-quoted
mkdir -p "$(dirname "$FLAGS")"
line="set --"
for arg in "$@"; do
  quoted=$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")
  line="$line '$quoted'"
done
printf '%s\n' "$line" > "$FLAGS"
# shellcheck disable=SC2086
exec $SUPERVISORD
