# shellcheck shell=bash
# Sourced by cross/build and cross/test: the cross toolchain that cross/setup installed,
# and how each router build is made.

# mt7621 and mt7986; CROSS_TARGETS picks some of them.
# shellcheck disable=SC2034 # used by the scripts that source this
read -ra TARGETS <<<"${CROSS_TARGETS:-mipsel-unknown-linux-musl aarch64-unknown-linux-musl}"
CROSS_OUT=build/cross
# One cargo target folder for every target, variant, the tests and the fuzz targets:
# std is built once per target and std flavour (below) and shared by all of them.
CROSS_CARGO=$CROSS_OUT/cargo

export PATH="$PWD/$CROSS_OUT/venv/bin:$PATH"
# Debian's Rust 1.96, not rustup's: it has std's sources for -Zbuild-std (neither target
# has a std for this compiler otherwise; mipsel has none anywhere).
# cargo-zigbuild runs $CARGO.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo RUSTC_BOOTSTRAP=1

# OpenWrt's release profile: CARGO_PKG_CONFIG_VARS of lang/rust/rust-values.mk, with the
# panic strategy our package Makefile sets. The tests build with it too (cargo's bench
# profile inherits it; -Zpanic-abort-tests keeps panic=abort), so they share its std.
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=false CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
    CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_RPATH=false
# zig's linker fails on --strip-all when it links musl dynamically (its libc objects
# lose symbols they need): cross/build strips afterwards, as OpenWrt's package step does.
export CARGO_PROFILE_RELEASE_STRIP=false

# std_flags VARIANT: the target's RUSTFLAGS, which cargo applies to std as well; a
# change rebuilds std, so there are two flavours only:
# - static, dynamic, test (and the fuzz targets): Rust's self-contained musl crt objects
#   are not in Debian's rustlib; zig brings its own.
# - router: std's panics abort on the spot: no panic messages, no backtrace printer and
#   DWARF symbolizer in the binary, and so no unwind tables.
std_flags() {
    local flags="-C link-self-contained=no"
    [ "$1" = router ] &&
        flags="$flags -Zunstable-options -C panic=immediate-abort -C force-unwind-tables=no"
    echo "$flags"
}

# link_flags TARGET VARIANT: how the helper's own crates (and so, with LTO, the whole
# program) are compiled and linked, given to them alone (-Zprofile-rustflags):
# - static (router, test): runs anywhere, under qemu-user too. mipsel as static-pie
#   crashes under qemu-mipsel at the first thread-local access; a non-PIE one runs.
# - dynamic: linked against musl's libc.so as OpenWrt links it (-crt-static,
#   rust-values.mk), for its size; zig links static-pie unless told -dynamic.
link_flags() {
    case $2 in
    dynamic) echo '"-C", "target-feature=-crt-static", "-C", "link-arg=-dynamic"' ;;
    *) if [ "$1" = mipsel-unknown-linux-musl ]; then echo '"-C", "relocation-model=static"'; fi ;;
    esac
}

# zig's name for the target (what cargo-zigbuild passes it), for C built here.
cross_zig_target() {
    case $1 in
    mipsel-*) echo mipsel-linux-musleabi ;;
    aarch64-*) echo aarch64-linux-musl ;;
    esac
}

# The strip OpenWrt's package step runs (binutils for the target) before its sstrip.
cross_strip() {
    case $1 in
    mipsel-*) echo mipsel-linux-gnu-strip ;;
    aarch64-*) echo aarch64-linux-gnu-strip ;;
    esac
}

# cross_cargo TARGET VARIANT SUBCOMMAND ARGS...: cargo-zigbuild's zigbuild (build) or test
# for one variant, in the shared target folder.
cross_cargo() {
    local target=$1 variant=$2 sub=$3 upper package profile config=()
    shift 3
    upper=$(echo "$target" | tr a-z- A-Z_)
    for package in fw4-offload fw4-offload-fuzz; do
        for profile in release bench; do
            config+=(--config "profile.$profile.package.$package.rustflags=[$(link_flags "$target" "$variant")]")
        done
    done
    env "CARGO_TARGET_${upper}_RUSTFLAGS=$(std_flags "$variant")" \
        nice cargo-zigbuild "$sub" --release --locked --target "$target" \
        --target-dir "$CROSS_CARGO" -Zprofile-rustflags "${config[@]}" "$@"
}

# step_start, then step_done LABEL: the step's wall and CPU seconds (user and system, of
# the commands it ran). On 2 idle cores CPU time, not this machine's wall time, predicts
# CI's. `times` runs in this shell: in a command substitution it would count nothing.
step_start() {
    STEP_START=$SECONDS
    step_cpu
    STEP_CPU=$STEP_NOW
}
step_done() {
    step_cpu
    echo "$1 ($((SECONDS - STEP_START)) s wall, $((STEP_NOW - STEP_CPU)) s CPU)"
}
step_cpu() {
    times >"$CROSS_OUT/times"
    STEP_NOW=$(awk 'END { split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$CROSS_OUT/times")
}
