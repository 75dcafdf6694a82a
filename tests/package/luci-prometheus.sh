# shellcheck shell=bash
# shellcheck disable=SC2016 # the stubs' $ expands when they run
# The LuCI app and the Prometheus collector installed into a scratch router root and
# removed again, as opkg and apk do it: the files their install recipes put there
# (tests/openwrt-make runs those recipes) copied in, postinst run, the files deleted (apk
# also deletes the directories they alone needed, opkg-lede, which lists files only, does
# not), postrm run. On a live router the scripts run
# chrooted into the root, by busybox's sh, with the init scripts they call as stubs that
# log their arguments; for an image (IPKG_INSTROOT) they do nothing. Removed, the root is
# what it was, file for file: nothing of the package left, LuCI's caches dropped (they
# would still hold its menu entries), the services told.

# router_root NAME: a root with busybox as /bin/sh, the directories the dependencies
# (luci-base, rpcd, the exporter) install, stub init scripts for rpcd and the exporter
# (`running` fails when EXPORTER_STOPPED=1), LuCI's caches as a running LuCI leaves them.
router_root() {
	local root=$SCRATCH/$1 bb lib
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,etc/init.d,tmp/luci-modulecache,usr/share/rpcd/acl.d} \
		"$root"/{usr/share/luci/menu.d,www/luci-static/resources/view,usr/lib/lua/prometheus-collectors}
	touch "$root/dev/null" # this machine's, bound there while a script runs
	bb=$(command -v busybox)
	cp "$bb" "$root/bin/busybox"
	for lib in $(ldd "$bb" 2>/dev/null | grep -o '/[^ ]*' || true); do
		mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
	done
	ln -s busybox "$root/bin/sh"
	ln -s busybox "$root/bin/rm"
	ln -s busybox "$root/bin/rmdir"
	printf '#!/bin/sh\necho "rpcd $*" >>/calls\n' >"$root/etc/init.d/rpcd"
	printf '#!/bin/sh\n[ "$1" = running ] && exit ${EXPORTER_STOPPED:-0}\necho "exporter $*" >>/calls\n' \
		>"$root/etc/init.d/prometheus-node-exporter-lua"
	chmod +x "$root"/etc/init.d/*
	touch "$root/tmp/luci-indexcache.1" "$root/tmp/luci-modulecache/x"
	echo "$root"
}

# files_of PKG: "FROM TO" for each file its install recipe installs.
files_of() {
	local dir=package/$1
	case $1 in
	luci-app-fw4-offload)
		(cd "$dir/htdocs" && find . -type f -printf "$dir/htdocs/%P www/%P\n")
		(cd "$dir/root" && find . -type f -printf "$dir/root/%P %P\n")
		;;
	*) (cd "$dir/files" && find . -type f -printf "$dir/files/%P %P\n") ;;
	esac
}

# snapshot ROOT: every entry with its type and mode, and every file's content, but the
# stub's log and /tmp (LuCI's caches, checked on their own).
snapshot() {
	(cd "$1" && find . ! -path ./calls ! -path './tmp*' -printf '%y %m %p\n' | sort &&
		find . -type f ! -path ./calls ! -path './tmp/*' -exec md5sum {} + | sort -k2)
}

# pkg_install ROOT PKG: the files in; the directories made for them listed in
# $SCRATCH/PKG.dirs, which apk removes with the files once they are empty.
pkg_install() {
	local from to dir
	: >"$SCRATCH/$2.dirs"
	while read -r from to; do
		dir=$(dirname "$to")
		while [ "$dir" != . ] && [ ! -d "$1/$dir" ]; do
			echo "$dir" >>"$SCRATCH/$2.dirs"
			dir=$(dirname "$dir")
		done
		mkdir -p "$1/$(dirname "$to")"
		cp "$from" "$1/$to"
	done < <(files_of "$2")
}
# pkg_remove ROOT PKG MANAGER: the files out, and with apk the directories too.
pkg_remove() {
	local _ to
	while read -r _ to; do rm "$1/$to"; done < <(files_of "$2")
	[ "$3" = apk ] || return 0
	sort -ru "$SCRATCH/$2.dirs" | while read -r dir; do rmdir "$1/$dir"; done
}

# run_script ROOT PKG SCRIPT [VAR=VALUE...]: the maintainer script, chrooted, by busybox sh.
run_script() {
	local root=$1 pkg=$2 script=$3 rc=0
	shift 3
	maintainer_script "package/$pkg/Makefile" "$pkg" "$script" >"$root/$script"
	unshare -r -m sh -c 'mount --bind /dev/null "$0/dev/null" && exec chroot "$0" "$@"' \
		"$root" /bin/busybox env -i PATH=/bin "$@" /bin/sh "/$script" || rc=$?
	rm "$root/$script"
	return $rc
}

caches_dropped() { [ ! -e "$1/tmp/luci-modulecache" ] && ! compgen -G "$1/tmp/luci-indexcache.*" >/dev/null; }
told() { [ "$(cat "$1/calls" 2>/dev/null)" = "$2" ]; }

# lifecycle MANAGER PKG CALLS [VAR=VALUE...]: installed and removed on a live router as
# MANAGER (apk or opkg) does it; CALLS: what each of postinst and postrm asks of the init
# scripts.
lifecycle() {
	local manager=$1 pkg=$2 want=$3 root script what
	shift 3
	what="$manager${*:+, $*}"
	root=$(router_root "$pkg")
	snapshot "$root" >"$SCRATCH/$pkg.before"
	pkg_install "$root" "$pkg"
	for script in postinst postrm; do
		[ "$script" = postinst ] || pkg_remove "$root" "$pkg" "$manager"
		check "$pkg: $script succeeds on a live router ($what)" run_script "$root" "$pkg" "$script" "$@"
		check "$pkg: $script: ${want:-no command} ($what)" told "$root" "$want"
		[ "$pkg" != luci-app-fw4-offload ] || check "$pkg: $script dropped LuCI's caches ($what)" caches_dropped "$root"
		# LuCI builds them again, with the package's menu entries, until the removal
		rm -f "$root/calls"
		touch "$root/tmp/luci-indexcache.1"
		mkdir -p "$root/tmp/luci-modulecache"
	done
	same "$pkg: removed, nothing of it is left ($what)" "$SCRATCH/$pkg.before" <(snapshot "$root")
}

if unshare -r -m chroot / true 2>/dev/null; then
	for manager in apk opkg; do
		lifecycle "$manager" luci-app-fw4-offload "rpcd reload"
		lifecycle "$manager" prometheus-node-exporter-lua-fw4-offload "exporter restart"
		lifecycle "$manager" prometheus-node-exporter-lua-fw4-offload "" EXPORTER_STOPPED=1
	done
	for pkg in luci-app-fw4-offload prometheus-node-exporter-lua-fw4-offload; do
		root=$(router_root "$pkg-image")
		for script in postinst postrm; do
			check "$pkg: $script into an image succeeds" run_script "$root" "$pkg" "$script" IPKG_INSTROOT=/
		done
		check "$pkg: into an image: no command, LuCI's caches kept" \
			eval 'told "$root" "" && [ -e "$root/tmp/luci-indexcache.1" ] && [ -e "$root/tmp/luci-modulecache/x" ]'
	done
else
	fail "the LuCI app and the collector: cannot chroot (unshare -r -m needs user namespaces or root)"
fi
