# Developer entry points. Cargo builds into build/ (target/ is OpenWrt's patch tree).

CARGO ?= cargo
EXAMPLE ?= tests/golden/mt7621-dsa-pppoe
BIN := build/cargo/release/fw4-offload
FUZZ_RUNS ?= 200000
FUZZ_SMOKE_RUNS ?= 20000

.PHONY: all demo demo-fresh build test lint unit live nft-check vm vm-apply vm-golden vm-daemon kernel-check package-check openwrt-make openwrt-tree fuzz fuzz-smoke bench clean

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

test: lint unit package-check openwrt-make demo-fresh live nft-check vm vm-apply vm-golden vm-daemon fuzz-smoke kernel-check

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

# Every golden case applied over netlink and listed back with nft, in the VM.
vm-golden: build
	BIN=$(BIN) tests/vm-golden

# The daemon in the VM: devices created and deleted under traffic, 200 cycles for leaks,
# status and flows against conntrack and nft.
vm-daemon: build
	BIN=$(BIN) tests/vm-daemon

# The Linux 6.12 series: applies, checkpatch-clean, cross-builds for arm64 and mipsel,
# KUnit under UML (about a quarter of an hour on 2 cores; see kernel/README.md).
kernel-check:
	KBUILD_DIR=$(CURDIR)/build/kernel kernel/check

# The feed's packaging: scripts under ShellCheck, install/remove against scratch roots,
# the init script's procd instance, the package Makefiles, openwrt-tree (see
# package/README.md).
package-check:
	tests/package/check

# OpenWrt 25.12.5's own make on the package Makefiles: feeds, metadata scan, defconfig,
# the values the build uses, prepare, and compile as far as it gets offline.
openwrt-make:
	tests/openwrt-make

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

# Size, memory and speed against nft -f, conntrack -L and fw4 (see bench/run); on a fresh
# Debian 12 it first installs what it runs (as root) or says how.
bench:
	@scripts/setup-host bench
	@$(MAKE) -s --no-print-directory build
	bench/run

clean:
	rm -rf build
