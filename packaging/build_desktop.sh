#!/usr/bin/env bash
# Build the standalone desktop app (dist/skill-designer/) with PyInstaller, then check that it
# starts: `--version`, a subcommand, and the designer's window under Xvfb (when installed).
# Linux x64 here; the same spec builds on Windows and macOS. Takes minutes: not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
started=$(date +%s)
"$PY" -m pip install -q "pyinstaller>=6.10,<7"
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
    packaging/desktop/skill-designer.spec
built=$(date +%s)
APP=dist/skill-designer/skill-designer
"$APP" --version
data=$(mktemp -d)
SKILL_DESIGNER_DATA="$data" "$APP" validate resources/samples/default.skill.json
if command -v xvfb-run >/dev/null 2>&1; then
    # The probe prints "window-shown" once the main window is up (a process that lingers after is killed).
    SKILL_DESIGNER_DATA="$data" SKILL_DESIGNER_STARTUP_PROBE=1 QT_QPA_PLATFORM=xcb \
        timeout 60 xvfb-run -a "$APP" > "$data/probe.log" 2>&1 || true
    if grep -q window-shown "$data/probe.log"; then
        echo "designer window shown under Xvfb"
    else
        echo "the designer did not open under Xvfb:" >&2
        tail -20 "$data/probe.log" >&2
        exit 1
    fi
else
    echo "xvfb-run not installed (apt-get install xvfb libxcb-icccm4 libxcb-keysyms1): window not checked"
fi
rm -rf "$data"
echo "built in $((built - started)) s; $(du -sh dist/skill-designer | cut -f1) in dist/skill-designer"
