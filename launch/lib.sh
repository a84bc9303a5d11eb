# shellcheck shell=bash
#
# Shared helpers for launch/tessera-run and launch/test. Source it; do not run it.
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

TESSERA_PACKAGES=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-openmpi-dev hdf5-tools pkg-config libsentencepiece-dev libdnnl-dev)

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

# (a2) Python modules the scripts around the product import (launch/sweep's plot), installed with
# pip into the python3 on PATH, which runs them: the scripts themselves install nothing.
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
            tessera_note "could not install $module; launch/sweep will write no plot"
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

# (d) Environment that lets OpenMPI's shared-memory transport work in containers. A variable the
# user has already set is left alone.
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

# Processor cores this process may use, as OpenMPI counts them (cores, not hardware threads),
# within the CPUs this process is allowed to run on. Falls back to nproc.
tessera_local_cores() {
    local n=""
    if command -v lscpu >/dev/null 2>&1 && [[ -r /proc/self/status ]]; then
        local allowed
        allowed="$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)"
        n="$(lscpu -p=CPU,Core,Socket 2>/dev/null | awk -F, -v allowed="$allowed" '
            BEGIN {
                k = split(allowed, parts, ",")
                for (i = 1; i <= k; i++) {
                    if (split(parts[i], r, "-") == 2) { for (c = r[1]; c <= r[2]; c++) ok[c] = 1 }
                    else ok[parts[i]] = 1
                }
            }
            /^#/ { next }
            ($1 in ok) && !seen[$3 "," $2]++ { cores++ }
            END { if (cores > 0) print cores }' || true)"
    fi
    if [[ ! "$n" =~ ^[0-9]+$ ]] || ((n == 0)); then
        n="$(nproc 2>/dev/null || echo 1)"
    fi
    printf '%s\n' "$n"
}

# OpenBLAS 0.3.21 picks its kernels from the CPU model number; on a CPU it does not know (a
# virtual machine's generic "Intel Xeon Processor", for one) it falls back to Prescott's SSE3
# kernels, 4-5x slower at sgemm. When that happens and OPENBLAS_CORETYPE is unset, choose the
# kernels the CPU's feature flags support. $1 is the tessera binary. Leaves a user's setting alone.
tessera_blas_coretype() {
    [[ -n "${OPENBLAS_CORETYPE:-}" ]] && return 0
    local core
    core="$("$1" bench blas 2>/dev/null | awk '{print $1}')" || return 0
    [[ "$core" == Prescott || "$core" == Core2 || "$core" == Nehalem ]] || return 0
    local flags
    flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)"
    local choice=""
    if [[ " $flags " == *" avx512f "* && " $flags " == *" avx512bw "* && " $flags " == *" avx512vl "* &&
        " $flags " == *" avx512dq "* && " $flags " == *" avx512cd "* ]]; then
        choice=SkylakeX
    elif [[ " $flags " == *" avx2 "* && " $flags " == *" fma "* ]]; then
        choice=Haswell
    fi
    [[ -n "$choice" ]] || return 0
    export OPENBLAS_CORETYPE="$choice"
    TESSERA_MPI_ENV_SET+=(OPENBLAS_CORETYPE)
    tessera_note "OpenBLAS chose $core kernels for this CPU; using $choice (its feature flags allow them)"
}

# An exit status of mpirun in words: "exit 1 (...)", "signal 9 (KILL, exit 137)" for 128+N, or
# for any other status, mpirun's own failure (an OpenMPI error code, not tessera's).
tessera_describe_status() {
    local status="$1" name=""
    if ((status > 128 && status <= 128 + 64)); then
        name="$(kill -l "$((status - 128))" 2>/dev/null || true)"
    fi
    if [[ -n "$name" ]]; then
        printf 'signal %d (%s, exit %d)' "$((status - 128))" "${name#SIG}" "$status"
    elif ((status == 1)); then
        printf 'exit 1 (a failure during the run)'
    elif ((status == 2)); then
        printf 'exit 2 (bad usage, config or input)'
    else
        printf "exit %d (not tessera's own status but mpirun's: e.g. it lost contact with a node's daemon, or could not start one)" "$status"
    fi
}

# The run folder of a `tessera train` command line (the arguments after `train`): the last
# `--set run.dir=...`, else `dir` in the config's [run] section, else the default; empty when the
# config cannot be read. Relative to the current folder, as tessera takes it.
tessera_train_run_dir() {
    local config="" dir="" i
    local -a args=("$@")
    for ((i = 0; i < ${#args[@]}; i++)); do
        case "${args[i]}" in
            --config) config="${args[i + 1]:-}"; i=$((i + 1)) ;;
            --config=*) config="${args[i]#--config=}" ;;
            --set)
                [[ "${args[i + 1]:-}" == run.dir=* ]] && dir="${args[i + 1]#run.dir=}"
                i=$((i + 1))
                ;;
            --set=run.dir=*) dir="${args[i]#--set=run.dir=}" ;;
        esac
    done
    if [[ -z "$dir" ]]; then
        [[ -n "$config" && -r "$config" ]] || return 0
        # `dir = "..."` in [run], or `run.dir = "..."` at the top level (basic or literal string).
        dir="$(awk '
            { sub(/\r$/, "") }
            /^[ \t]*\[/ { section = $0; gsub(/[ \t\[\]]/, "", section); next }
            {
                key = ""
                if (section == "run" && match($0, /^[ \t]*dir[ \t]*=[ \t]*/)) key = "dir"
                else if (section == "" && match($0, /^[ \t]*run\.dir[ \t]*=[ \t]*/)) key = "run.dir"
                if (key == "") next
                rest = substr($0, RSTART + RLENGTH)
                q = substr(rest, 1, 1)
                if (q != "\"" && q != "\047") next
                rest = substr(rest, 2); end = index(rest, q)
                if (end > 0) { value = substr(rest, 1, end - 1); found = 1 }
            }
            END { if (found) print value; else print "runs/shakespeare-char" }' "$config")"
    fi
    printf '%s\n' "$dir"
}

# Where a restarted `tessera train` (arguments after `train`) continues, in words: the step and
# folder that RUN_DIR/checkpoints/latest names, step 0 when there is none yet, or "the newest
# complete checkpoint" when the run folder cannot be told.
tessera_train_resume_point() {
    local resume=auto i dir name step
    local -a args=("$@")
    for ((i = 0; i < ${#args[@]}; i++)); do
        case "${args[i]}" in
            --resume) resume="${args[i + 1]:-auto}"; i=$((i + 1)) ;;
            --resume=*) resume="${args[i]#--resume=}" ;;
        esac
    done
    if [[ "$resume" == never ]]; then
        printf 'step 0 (--resume never: the run starts over)'
        return 0
    elif [[ "$resume" != auto ]]; then
        printf 'the checkpoint given by --resume %s' "$resume"
        return 0
    fi
    dir="$(tessera_train_run_dir "$@")"
    if [[ -z "$dir" ]]; then
        printf 'the newest complete checkpoint'
    elif [[ -r "$dir/checkpoints/latest" ]]; then
        name="$(head -n 1 "$dir/checkpoints/latest" | tr -d '[:space:]')"
        if [[ "$name" =~ ^step_0*([0-9]+)$ ]]; then
            step="${BASH_REMATCH[1]}"
            [[ -n "$step" ]] || step=0
            printf 'step %s (%s/checkpoints/%s)' "$step" "$dir" "$name"
        else
            printf 'the newest complete checkpoint (%s/checkpoints/latest names %s)' "$dir" "${name:-nothing}"
        fi
    else
        printf 'step 0 (no complete checkpoint yet in %s/checkpoints)' "$dir"
    fi
}
