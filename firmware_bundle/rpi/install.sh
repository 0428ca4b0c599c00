#!/bin/sh
# Install the edgecxr Raspberry Pi runner's requirements, then run its self-test.
#
#   ./install.sh          a venv in .venv (reusing apt's python3-numpy / python3-pil if present)
#   ./install.sh --here   pip into the environment of $PYTHON itself (an existing TFLite runtime)
#   --no-selftest         skip the self-test at the end (`edgecxr deploy` runs it itself)
#
#   PYTHON=python3.11 ./install.sh                              pick the interpreter
#   PIP_ARGS="--no-index --find-links ./wheels" ./install.sh    install offline from wheels
#
# It also writes edgecxr-classify.service (the folder-watch mode as a systemd unit) with this
# folder's absolute paths; enabling it is up to you (the commands are printed at the end).
set -eu
cd "$(dirname "$0")"
HERE="$(pwd)"
PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

HERE_ENV=0
SELFTEST=1
for arg in "$@"; do
  case "$arg" in
    --here) HERE_ENV=1 ;;
    --no-selftest) SELFTEST=0 ;;
    *) echo "error: unknown option $arg (use --here, --no-selftest)" >&2; exit 2 ;;
  esac
done

if [ "$HERE_ENV" = 1 ]; then
  RUN="$(command -v "$PYTHON")"
else
  "$PYTHON" -m venv --system-site-packages .venv
  RUN="$HERE/.venv/bin/python"
fi
# shellcheck disable=SC2086  # PIP_ARGS is a list of words
"$RUN" -m pip install ${PIP_ARGS:-} -r requirements.txt

mkdir -p incoming
sed -e "s|@PYTHON@|$RUN|g" -e "s|@DIR@|$HERE|g" -e "s|@USER@|$(id -un)|g" \
  edgecxr-classify.service.in > edgecxr-classify.service

if [ "$SELFTEST" = 1 ]; then "$RUN" selftest.py; fi
echo "installed. classify:  $RUN $HERE/classify.py --model $HERE/model.tflite --spec $HERE/spec.json IMAGE..."
echo "watch $HERE/incoming as a service:  sudo cp edgecxr-classify.service /etc/systemd/system/ && sudo systemctl enable --now edgecxr-classify"
