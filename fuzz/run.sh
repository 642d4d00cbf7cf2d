#!/usr/bin/env bash
# Runs every cargo-fuzz target of slotline-resp for SECONDS each; fails if any target finds a
# crash (a panic, an assertion, a sanitizer report, a timeout or running out of memory).
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the nightly-only
# sanitizer flags. Installs cargo-fuzz when it is missing. Crash inputs are kept in
# fuzz/artifacts/TARGET/; each one belongs as a regression test in crates/resp/tests.
set -euo pipefail

if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found: installing it" >&2
    cargo install cargo-fuzz --locked
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# A few well-formed replies to start from, so the fuzzers begin inside the grammar.
seed() {
    local dir=corpus/$1
    mkdir -p "$dir"
    [[ -n "$(ls -A "$dir")" ]] && return 0
    printf '\0+OK\r\n' >"$dir/simple"
    printf '\0-ERR unknown command\r\n' >"$dir/error"
    printf '\0:-1234\r\n' >"$dir/integer"
    printf '\0$5\r\nhello\r\n$-1\r\n' >"$dir/bulk"
    printf '\0*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n*-1\r\n*0\r\n' >"$dir/array"
    printf '\1*2\r\n+a\r\n-b\r\n$2\r\nab\r\n' >"$dir/tight"
}

cargo fuzz build

failed=()
for target in "${targets[@]}"; do
    seed "$target"
    mkdir -p "artifacts/$target"
    echo "== $target: ${seconds}s" >&2
    # libFuzzer reports every new input it finds; keep that in a log, show its summary.
    log="artifacts/$target/run.log"
    if cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -max_len=65536 \
        -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" >&2 || true
    else
        tail -n 60 "$log" >&2
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash" >&2
