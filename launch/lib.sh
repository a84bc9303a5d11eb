# shellcheck shell=bash
#
# Shared helpers for launch/tessera-run, launch/test and launch/slurm. Source it; do not run it.
#
# Functions die with a one-line `error: ...` on standard error. Callers set TESSERA_PROG (used
# as a prefix on progress lines) before calling anything here.
#
# Environment understood here:
#   TESSERA_SKIP_INSTALL=1   do not check or install Debian packages (MPI, BLAS, HDF5 provided
#                            some other way).
#   TESSERA_SCRATCH_PATH=DIR build directory for every `swift build`/`swift test` (default
#                            <repo>/.build), e.g. to keep parallel builds apart.

# The repository root: the folder above launch/.
TESSERA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TESSERA_PROG="${TESSERA_PROG:-tessera}"

TESSERA_PACKAGES=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-openmpi-dev hdf5-tools pkg-config libsentencepiece-dev libdnnl-dev zlib1g-dev)

# Names of the environment variables tessera_mpi_env set (so a launcher can show them).
TESSERA_MPI_ENV_SET=()

tessera_die() {
    printf 'error: %s\n' "$*" >&2
    exit "${TESSERA_DIE_STATUS:-1}"
}

tessera_note() {
    printf '%s: %s\n' "$TESSERA_PROG" "$*" >&2
}

# Absolute build directory (the scratch path) used for every swift invocation.
tessera_scratch_path() {
    local p="${TESSERA_SCRATCH_PATH:-$TESSERA_ROOT/.build}"
    case "$p" in
        /*) ;;
        *) p="$PWD/$p" ;;
    esac
    printf '%s\n' "$p"
}

# (a) Install the Debian packages that are missing; do nothing when all are installed.
tessera_install_packages() {
    if [[ "${TESSERA_SKIP_INSTALL:-0}" == 1 ]]; then
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        tessera_die "dpkg-query not found: this is not a Debian system; install ${TESSERA_PACKAGES[*]} (or equivalents) yourself and set TESSERA_SKIP_INSTALL=1"
    fi
    local missing=() pkg status
    for pkg in "${TESSERA_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
        if [[ "$status" != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    local sudo=()
    if ((EUID != 0)); then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            tessera_die "missing Debian packages (${missing[*]}) and not root and no sudo: run as root: apt-get install ${missing[*]}"
        fi
    fi
    tessera_note "installing missing Debian packages: ${missing[*]}"
    if ! "${sudo[@]}" apt-get update -qq >&2; then
        tessera_die "apt-get update failed; install these packages yourself: ${missing[*]}"
    fi
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
        tessera_die "apt-get install failed for: ${missing[*]}"
    fi
}

# (a2) Python modules the scripts around the product import (launch/sweep's plot; launch/test adds
# the reference safetensors reader), installed with pip into the python3 on PATH, which runs them:
# the scripts themselves install nothing.
TESSERA_PYTHON_MODULES=(matplotlib)
tessera_install_python_modules() {
    if [[ "${TESSERA_SKIP_INSTALL:-0}" == 1 ]] || ! command -v python3 >/dev/null 2>&1; then
        return 0
    fi
    local module
    for module in "${TESSERA_PYTHON_MODULES[@]}"; do
        # find_spec looks the module up without importing it (matplotlib takes a while to import).
        python3 -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$module') is None)" 2>/dev/null &&
            continue
        tessera_note "installing the Python module $module (python3 -m pip install $module)"
        python3 -m pip install --quiet "$module" >&2 ||
            tessera_note "could not install $module; what needs it is skipped (launch/sweep's plot, the tests against it)"
    done
}

# (b) Make sure `swift` is on PATH, adding /opt/swift/usr/bin when it is there.
tessera_require_swift() {
    if command -v swift >/dev/null 2>&1; then
        return 0
    fi
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        PATH="/opt/swift/usr/bin:$PATH"
        export PATH
        return 0
    fi
    tessera_die "swift not found on PATH or in /opt/swift/usr/bin: install a Swift 6 toolchain (https://www.swift.org/install/) and put its usr/bin on PATH"
}

# (c) Build the release `tessera` executable; show the compiler output only when it fails.
tessera_build_release() {
    local log status=0
    log="$(mktemp "${TMPDIR:-/tmp}/tessera-build.XXXXXX")"
    if [[ -t 2 ]]; then
        tessera_note "building tessera (swift build -c release --product tessera)"
    fi
    swift build --package-path "$TESSERA_ROOT" --scratch-path "$(tessera_scratch_path)" \
        -c release --product tessera >"$log" 2>&1 || status=$?
    if ((status != 0)); then
        cat "$log" >&2
        rm -f "$log"
        tessera_die "release build failed (swift build -c release --product tessera, exit $status)"
    fi
    rm -f "$log"
}

# (d) Environment that lets OpenMPI's shared-memory transport work in containers, for launch/test
# and launch/slurm (`tessera launch` applies the same rules itself: EnvironmentDefaults.swift). A
# variable the user has already set is left alone.
tessera_mpi_env() {
    if [[ -z "${OMPI_MCA_btl_vader_single_copy_mechanism+x}" ]]; then
        export OMPI_MCA_btl_vader_single_copy_mechanism=none
        TESSERA_MPI_ENV_SET+=(OMPI_MCA_btl_vader_single_copy_mechanism)
    fi
    if [[ -z "${OMPI_MCA_btl_vader_backing_directory+x}" ]]; then
        local shm_kib
        shm_kib="$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $2 }' || true)"
        if [[ ! "$shm_kib" =~ ^[0-9]+$ ]] || ((shm_kib < 512 * 1024)); then
            export OMPI_MCA_btl_vader_backing_directory=/tmp
            TESSERA_MPI_ENV_SET+=(OMPI_MCA_btl_vader_backing_directory)
        fi
    fi
}

# OpenBLAS picks its kernels from the CPU model number and falls back to slow generic ones on a
# CPU it does not know; then OPENBLAS_CORETYPE names the kernels the CPU's feature flags allow, as
# `tessera launch` sets it (the rule: Sources/Launch/EnvironmentDefaults.swift). $1 is the tessera
# binary. Leaves a user's setting alone.
tessera_blas_coretype() {
    [[ -n "${OPENBLAS_CORETYPE:-}" ]] && return 0
    local choice
    choice="$("$1" bench blas --coretype-choice 2>/dev/null)" || return 0
    [[ -n "$choice" ]] || return 0
    export OPENBLAS_CORETYPE="$choice"
    TESSERA_MPI_ENV_SET+=(OPENBLAS_CORETYPE)
    tessera_note "OpenBLAS fell back to generic kernels for this CPU; using $choice (its feature flags allow them)"
}
