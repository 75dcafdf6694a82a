# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# What kernel/check, kernel/openwrt-tree and tests/package share: reading patches/series
# and finding the OpenWrt tree the series is made for.

# The OpenWrt release whose kernel patches the series is refreshed against.
OPENWRT_RELEASE=25.12.5

# series_patches SERIES: the series' patches, one a line, in the order they apply.
series_patches() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1"
}

# series_requires SERIES: the OpenWrt patches (paths under target/linux/) the series is
# made on, from its "# requires: PATH" lines; kernel/check applies them before the series
# on a kernel without OpenWrt's patches.
series_requires() {
	sed -n 's/^# requires:[[:space:]]*//p' "$1"
}

# openwrt_dest PATCH: where OpenWrt's kernel build picks a series patch up, relative to
# its target/linux: patches/X is generic pending work, target/linux/T/patches-V/X the
# target T's own.
openwrt_dest() {
	case $1 in
	patches/*) echo "generic/pending-6.12/${1#patches/}" ;;
	target/linux/*) echo "${1#target/linux/}" ;;
	*) return 1 ;;
	esac
}

# openwrt_tarball REPO: the OpenWrt source archive next to the repository
# (../shared/third_party/openwrt-src), or OPENWRT_TARBALL; fails if there is none.
openwrt_tarball() {
	local t=${OPENWRT_TARBALL:-$1/../shared/third_party/openwrt-src/openwrt-v$OPENWRT_RELEASE.tar.gz}
	[ -r "$t" ] || return 1
	echo "$t"
}

# openwrt_extract TARBALL DIR: OpenWrt's 6.12 kernel patches (generic, mediatek, ramips)
# into DIR/target/linux.
openwrt_extract() {
	mkdir -p "$2"
	tar -xzf "$1" -C "$2" --strip-components=1 --wildcards \
		'openwrt/target/linux/generic/backport-6.12/*' \
		'openwrt/target/linux/generic/pending-6.12/*' \
		'openwrt/target/linux/generic/hack-6.12/*' \
		'openwrt/target/linux/mediatek/patches-6.12/*' \
		'openwrt/target/linux/ramips/patches-6.12/*'
}
