# Developer entry points. Cargo builds into build/ (target/ is OpenWrt's patch tree).

CARGO ?= cargo
EXAMPLE ?= tests/golden/mt7621-dsa-pppoe
BIN := build/cargo/release/fw4-offload
CROSS_OUT := build/cross
FUZZ_RUNS ?= 200000
FUZZ_SMOKE_RUNS ?= 20000

.PHONY: all demo demo-fresh build test lint unit live nft-check vm vm-apply vm-apply-arm64 vm-apply-mipsel vm-golden vm-daemon vm-soak soak openwrt-guest kernel-check kernel-reverts package-check openwrt-make luci prometheus vm-router openwrt-tree fuzz fuzz-smoke cross test-cross bench clean

all: build

build:
	$(CARGO) build --release --locked

# The main job on the bundled example: a mt7621 DSA router with a PPPoE wan. On a fresh
# Debian 12 it first installs what the build needs (as root) or says how (otherwise).
demo:
	@scripts/setup-host demo
	@$(MAKE) -s --no-print-directory build
	@echo "== fw4-offload --root $(EXAMPLE) check"
	@$(BIN) --root $(EXAMPLE) check
	@echo
	@echo "== fw4-offload --root $(EXAMPLE) print"
	@$(BIN) --root $(EXAMPLE) print

test: lint unit package-check openwrt-make demo-fresh live luci prometheus nft-check vm vm-apply vm-golden vm-daemon vm-soak openwrt-guest vm-router fuzz-smoke test-cross vm-apply-arm64 vm-apply-mipsel kernel-check

lint:
	$(CARGO) fmt --all --check
	cd fuzz && $(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

unit:
	$(CARGO) test --locked

# Live devices in a private namespace against their own snapshot (needs root).
live: build
	BIN=$(BIN) tests/live-snapshot

# Every golden ruleset must be accepted by nft.
nft-check: build
	tests/nft-check tests/golden/*/ruleset.nft

# The VM harness itself: plain nft flowtables and stock fw4 offloading, 6.12 and 6.1.
vm:
	vm/test-all

# apply against a real kernel with real traffic, in the VM.
vm-apply: build
	BIN=$(BIN) tests/vm-apply

# The same with make cross's static builds on kernels of the routers' architectures, under
# TCG: aarch64 in an arm64 guest (Debian's 6.12; mt7986) and mipsel in a 32-bit malta
# guest (Debian's 6.1; mt7621), where netlink's struct layout and 64-bit attribute
# alignment would go wrong.
vm-apply-arm64: cross
	VM_ARCH=arm64 VM_KERNELS=6.12 BIN=$(CROSS_OUT)/aarch64-unknown-linux-musl/static/fw4-offload tests/vm-apply

vm-apply-mipsel: cross
	VM_ARCH=mipsel VM_KERNELS=6.1 BIN=$(CROSS_OUT)/mipsel-unknown-linux-musl/static/fw4-offload tests/vm-apply

# Every golden case applied over netlink and listed back with nft, in the VM.
vm-golden: build
	BIN=$(BIN) tests/vm-golden

# The daemon in the VM: devices created and deleted under traffic, 200 cycles for leaks,
# status and flows against conntrack and nft; then under faults (tests/vm/faults.sh):
# fw4 reloading while it applies, signals while it waits for the kernel.
vm-daemon: build
	BIN=$(BIN) tests/vm-daemon

# The LuCI page and the collector on a router in the VM, whose kernel has flowtables:
# applies succeed, hardware falls back, flows are offloaded for real.
vm-router: build
	BIN=$(BIN) tests/vm-router

# The daemon under load and faults at once, with OpenWrt's ubusd (tests/vm/soak.sh): ubus
# calls from 4 clients, device create/delete cycles, fw4 reloads, ubusd restarts and a big
# conntrack table. `soak` is the full scale (CALLS CYCLES RELOADS RESTARTS CT_ENTRIES);
# vm-soak, in make test, a short pass with every fault (about 1 minute of CPU; a guest
# that hangs is stopped after 15).
SOAK ?= 10000 200 100 20 262144
SOAK_SHORT ?= 600 20 10 4 16384
soak: build
	BIN=$(BIN) tests/vm-soak $(SOAK)

vm-soak: build
	VM_TIMEOUT=900 BIN=$(BIN) tests/vm-soak $(SOAK_SHORT)

# The user's path on OpenWrt's own userspace in the VM: procd, ubusd, netifd, fw4, rpcd and
# uhttpd built from source (cached in build/openwrt), the package installed, upgraded and
# removed with apk and with opkg (tests/openwrt-guest). The upgrade brings the debug build.
openwrt-guest: build
	$(CARGO) build --locked
	BIN=$(BIN) BIN_REBUILT=build/cargo/debug/fw4-offload tests/openwrt-guest

# The Linux 6.12 series, on OpenWrt 25.12.5's patched tree and on the plain one: applies,
# checkpatch-clean, cross-builds for arm64 and mipsel, KUnit under UML (see
# kernel/README.md).
kernel-check:
	KBUILD_DIR=$(CURDIR)/build/kernel kernel/check

# Each fix of the series undone in turn must fail its KUnit tests (patches/README.md);
# starts from kernel-check's tree and builds when they are there.
kernel-reverts:
	KBUILD_DIR=$(CURDIR)/build/kernel KEEP=1 kernel/check --reverts

# The feed's packaging: scripts under ShellCheck, install/remove against scratch roots,
# the init script's procd instance, the package Makefiles, openwrt-tree (see
# package/README.md).
package-check:
	tests/package/check

# OpenWrt 25.12.5's own make on the package Makefiles: feeds, metadata scan, defconfig,
# the values the build uses, prepare, and compile as far as it gets offline.
openwrt-make:
	tests/openwrt-make

# The LuCI page: ESLint, then headless chromium against OpenWrt's ubusd, rpcd and uhttpd
# and the daemon (needs root).
luci: build
	BIN=$(BIN) tests/luci

# The Prometheus collector in the real exporter, scraped and checked with promtool (root).
prometheus: build
	BIN=$(BIN) tests/prometheus

# make demo on a fresh Debian 12 root (debootstrap, then chroot) with only git and make.
demo-fresh:
	EXAMPLE=$(EXAMPLE) tests/demo-fresh

# Put the kernel series into an OpenWrt tree: make openwrt-tree OPENWRT=/path/to/openwrt
openwrt-tree:
	@test -n "$(OPENWRT)" || { echo "usage: make openwrt-tree OPENWRT=/path/to/openwrt" >&2; exit 2; }
	kernel/openwrt-tree install "$(OPENWRT)"

fuzz:
	fuzz/run $(FUZZ_RUNS)

fuzz-smoke:
	fuzz/run $(FUZZ_SMOKE_RUNS)

# The routers' targets, mipsel (mt7621) and aarch64 (mt7986), static, dynamic and
# router variants: build/cross/TARGET/VARIANT/fw4-offload (cross/setup installs the
# toolchain; see cross/env.sh).
cross:
	cross/build

# Those builds under qemu-user: unit and integration tests, the fuzz corpora, and every
# golden case's output equal to the x86_64 build's. After fuzz-smoke in `test`, whose
# corpora it replays.
test-cross: build cross
	HOST_BIN=$(BIN) cross/test

# Size, memory and speed against nft -f, conntrack -L and fw4 (see bench/run); on a fresh
# Debian 12 it first installs what it runs (as root) or says how.
bench:
	@scripts/setup-host bench
	@$(MAKE) -s --no-print-directory build
	bench/run

clean:
	rm -rf build
