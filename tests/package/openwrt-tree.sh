# shellcheck shell=bash
# kernel/openwrt-tree (make openwrt-tree) against scratch OpenWrt tree skeletons: just
# the files it reads (include/kernel-<ver>, the targets' Makefiles). Then, when Debian's
# linux-source-6.12 and OpenWrt's source archive are here, "applied" against the files
# the series touches, with the OpenWrt patches the series requires, patched in the order
# OpenWrt applies them (generic pending before target patches).

# shellcheck source=kernel/lib.sh
. kernel/lib.sh

# skeleton DIR MEDIATEK_VER RAMIPS_VER: an OpenWrt tree as far as openwrt-tree looks.
skeleton() {
	rm -rf "$1"
	mkdir -p "$1/include" "$1/target/linux/mediatek" "$1/target/linux/ramips" "$1/target/linux/generic"
	printf 'LINUX_VERSION-6.12 = .58\n' >"$1/include/kernel-6.12"
	printf 'ARCH:=aarch64\nBOARD:=mediatek\nKERNEL_PATCHVER:=%s\n' "$2" >"$1/target/linux/mediatek/Makefile"
	printf 'ARCH:=mipsel\nBOARD:=ramips\nKERNEL_PATCHVER:=%s\n' "$3" >"$1/target/linux/ramips/Makefile"
}
# The series, in order (the expectations below are built from it).
mapfile -t series < <(series_patches patches/series)
mapfile -t requires < <(series_requires patches/series)

# listing DIR: every file under DIR with its hash, to see whether a run changed anything.
listing() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k 2); }

tree=$SCRATCH/openwrt
skeleton "$tree" 6.12 6.12
check "make openwrt-tree OPENWRT=<6.12 tree> succeeds" \
	make -s openwrt-tree OPENWRT="$tree"
# Expected: both SoC targets get the SoC patches, generic/pending the netfilter ones,
# each under its own name, byte-identical to the repository's.
expected=0
for p in "${series[@]}"; do
	base=${p##*/}
	case $p in
	target/linux/*)
		for t in mediatek ramips; do
			expected=$((expected + 1))
			check "$t gets $base" cmp -s "$p" "$tree/target/linux/$t/patches-6.12/$base"
		done
		;;
	patches/*)
		expected=$((expected + 1))
		check "generic/pending-6.12 gets $base" cmp -s "$p" "$tree/target/linux/generic/pending-6.12/$base"
		;;
	esac
done
check "nothing else copied ($expected patches)" \
	test "$(find "$tree/target" -name '*.patch' | wc -l)" = "$expected"

listing "$tree" >"$SCRATCH/tree.before"
check "second run succeeds" kernel/openwrt-tree install "$tree"
listing "$tree" >"$SCRATCH/tree.after"
same "second run changes nothing" "$SCRATCH/tree.before" "$SCRATCH/tree.after"

# A file of that name with other content: refused, and nothing copied at all.
victim=$(find "$tree/target/linux/ramips" -name '*.patch' | sort | head -n 1)
echo "# changed" >>"$victim"
rm "$tree"/target/linux/generic/pending-6.12/*.patch
listing "$tree" >"$SCRATCH/tree.before"
check "a patch there with other content: refused" not kernel/openwrt-tree install "$tree"
listing "$tree" >"$SCRATCH/tree.after"
same "refused: nothing copied" "$SCRATCH/tree.before" "$SCRATCH/tree.after"

# Trees the series does not match: refused, nothing copied.
for case in "6.6 6.6" "6.12 6.6" "6.6 6.12"; do
	read -r m r <<<"$case"
	skeleton "$tree" "$m" "$r"
	check "mediatek $m, ramips $r: refused" not kernel/openwrt-tree install "$tree"
	check "mediatek $m, ramips $r: nothing copied" test -z "$(find "$tree/target" -name '*.patch')"
done
skeleton "$tree" 6.12 6.12
rm "$tree/include/kernel-6.12"
check "no include/kernel-6.12: refused" not kernel/openwrt-tree install "$tree"
check "not a directory: refused" not kernel/openwrt-tree install "$SCRATCH/no-such-tree"

# applied: the files the series changes, from Debian's 6.12 source, with the OpenWrt
# patches the series requires.
TARBALL=/usr/src/linux-source-6.12.tar.xz
if [ -r "$TARBALL" ] && ow_tarball=$(openwrt_tarball "$REPO"); then
	openwrt_extract "$ow_tarball" "$SCRATCH/openwrt"
	ow=$SCRATCH/openwrt/target/linux
	base=$SCRATCH/linux/base
	mkdir -p "$base"
	# Files the series and its requirements change, less those they create (a later
	# patch's "--- a/" names them too).
	# shellcheck disable=SC2016 # awk's own $2
	mapfile -t touched < <(awk '
		/^--- a\// { old[substr($2, 3)] = 1 }
		prev ~ /^--- \/dev\/null/ && /^\+\+\+ b\// { created[substr($2, 3)] = 1 }
		{ prev = $0 }
		END { for (f in old) if (!(f in created)) print "linux-source-6.12/" f }' \
		"${series[@]}" "${requires[@]/#/$ow/}" | sort)
	tar -xJf "$TARBALL" -C "$base" --strip-components=1 "${touched[@]}"
	ok=1
	for r in "${requires[@]}"; do
		patch -d "$base" -p1 -s -f <"$ow/$r" >/dev/null || ok=0
	done
	check "the OpenWrt patches the series requires apply to 6.12" test "$ok" = 1
	patched=$SCRATCH/linux/patched
	cp -a "$base" "$patched"
	# OpenWrt's order: generic (pending) first, then the target's own.
	ok=1
	for p in patches/*.patch target/linux/mediatek/patches-6.12/*.patch; do
		patch -d "$patched" -p1 -s -f <"$p" >/dev/null || ok=0
	done
	check "the series applies to 6.12 in OpenWrt's order (generic, then target)" test "$ok" = 1
	check "applied: a patched kernel carries the series" kernel/openwrt-tree applied "$patched"
	check "applied: an unpatched kernel is refused" not kernel/openwrt-tree applied "$base"
	partial=$SCRATCH/linux/partial
	cp -a "$base" "$partial"
	for p in patches/704-01-*.patch target/linux/mediatek/patches-6.12/*.patch; do
		patch -d "$partial" -p1 -s -f <"$p" >/dev/null
	done
	check "applied: a kernel without patch 704-02 is refused" not kernel/openwrt-tree applied "$partial"
else
	echo "SKIP: applied, OpenWrt's patch order ($TARBALL or OpenWrt $OPENWRT_RELEASE's source archive missing: apt-get install linux-source-6.12; ../shared/third_party/openwrt-src)"
fi
