# shellcheck shell=bash
# Sourced by cross/build and cross/test: the cross toolchain that cross/setup installed,
# and how each router build is made.

# mt7621 and mt7986; CROSS_TARGETS picks some of them.
# shellcheck disable=SC2034 # used by the scripts that source this
read -ra TARGETS <<<"${CROSS_TARGETS:-mipsel-unknown-linux-musl aarch64-unknown-linux-musl}"
CROSS_OUT=build/cross

export PATH="$PWD/$CROSS_OUT/venv/bin:$PATH"
# Debian's Rust 1.96, not rustup's: it has std's sources for -Zbuild-std (neither target
# has a std for this compiler otherwise; mipsel has none anywhere).
# cargo-zigbuild runs $CARGO.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo RUSTC_BOOTSTRAP=1

# OpenWrt's release profile: CARGO_PKG_CONFIG_VARS of lang/rust/rust-values.mk, with the
# panic strategy our package Makefile sets.
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=false CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
    CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_RPATH=false
# zig's linker fails on --strip-all when it links musl dynamically (its libc objects
# lose symbols they need): cross/build strips afterwards, as OpenWrt's package step does.
export CARGO_PROFILE_RELEASE_STRIP=false

# cross_flags TARGET VARIANT: the target's RUSTFLAGS for a variant:
# - static: what runs anywhere, under qemu-user too. Rust's self-contained musl crt
#   objects are not in Debian's rustlib (zig brings its own); mipsel as static-pie
#   crashes under qemu-mipsel at the first thread-local access, a non-PIE one runs.
# - dynamic: linked against musl's libc.so as OpenWrt links it (-crt-static,
#   rust-values.mk), for its size.
# - router: static, and std's panics abort on the spot: no panic messages, no
#   backtrace printer and DWARF symbolizer in the binary, and so no unwind tables.
# - test: static, for the test binaries (cross/test builds them with panic=unwind).
cross_flags() {
    local target=$1 variant=$2 flags
    case $variant in
    # zig links static-pie unless told -dynamic.
    dynamic) flags="-C target-feature=-crt-static -C link-arg=-dynamic" ;;
    static | router | test)
        flags="-C target-feature=+crt-static -C link-self-contained=no"
        [ "$target" = mipsel-unknown-linux-musl ] && flags="$flags -C relocation-model=static"
        [ "$variant" = router ] &&
            flags="$flags -Zunstable-options -C panic=immediate-abort -C force-unwind-tables=no"
        ;;
    esac
    echo "$flags"
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
# for one variant, in its own target folder (the flags differ, so sharing one would
# rebuild std each time).
cross_cargo() {
    local target=$1 variant=$2 sub=$3 upper
    shift 3
    upper=$(echo "$target" | tr a-z- A-Z_)
    env "CARGO_TARGET_${upper}_RUSTFLAGS=$(cross_flags "$target" "$variant")" \
        "CARGO_TARGET_${upper}_RUNNER=qemu-${target%%-*}-static" \
        nice cargo-zigbuild "$sub" --release --locked --target "$target" \
        --target-dir "$CROSS_OUT/cargo-$variant" "$@"
}
