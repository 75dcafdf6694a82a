# shellcheck shell=bash
# shellcheck disable=SC2016 # the stubs' and the scripts' own $ expand when they run
# The package's install and remove scripts against scratch roots: the uci-defaults script
# (run the way OpenWrt runs it: sourced from its directory) adds the include once however
# often it runs; prerm and postrm (taken from the package Makefile) give the original
# /etc/config/firewall back byte for byte, and on a live router delete the table and
# reload fw4. Commands that would touch this machine (nft, fw4, ubus) are stubs on PATH
# that log their arguments.

MK=package/fw4-offload/Makefile
maintainer_script "$MK" fw4-offload prerm >"$SCRATCH/prerm"
maintainer_script "$MK" fw4-offload postrm >"$SCRATCH/postrm"

# The section the package adds, exactly.
printf "\nconfig include 'fw4_offload'\n\toption type 'script'\n\toption path '/usr/share/fw4-offload/firewall.include'\n\toption fw4_compatible '1'\n" \
	>"$SCRATCH/section"

STUBS=$SCRATCH/stubs
CALLS=$SCRATCH/calls
mkdir -p "$STUBS"
for cmd in nft fw4 ubus fw4-offload; do
	# exit status from $STUB_<cmd>_RC (0 unless set)
	printf '#!/bin/sh\necho "%s $*" >>"%s"\neval "exit \\${STUB_%s_RC:-0}"\n' \
		"$cmd" "$CALLS" "${cmd//-/_}" >"$STUBS/$cmd"
	chmod +x "$STUBS/$cmd"
done

# new_root NAME: a scratch root with the package's files/ installed, no firewall config.
new_root() {
	local root=$SCRATCH/$1
	rm -rf "$root"
	mkdir -p "$root/etc/config"
	cp -a files/. "$root/"
	rm -f "$root/README.md"
	echo "$root"
}

# The package's lifecycle steps, run by the router's shell with stubs first on PATH;
# extra environment (IPKG_INSTROOT, UCI_CONFIG_DIR, PKG_UPGRADE) as arguments.
uci_defaults() {
	env PATH="$STUBS:$PATH" "$@" "${RSH[@]}" -c \
		'cd "$IPKG_INSTROOT/etc/uci-defaults" && . ./90-fw4-offload'
}
prerm() { env PATH="$STUBS:$PATH" "$@" "${RSH[@]}" "$SCRATCH/prerm"; }
postrm() { env PATH="$STUBS:$PATH" "$@" "${RSH[@]}" "$SCRATCH/postrm"; }

sections() { grep -c "^config include 'fw4_offload'\$" "$1" || true; }

# lifecycle NAME CONTENT: install twice, check, remove, compare with the original.
lifecycle() {
	local name=$1 root conf
	root=$(new_root "$name")
	conf=$root/etc/config/firewall
	printf '%b' "$2" >"$conf"
	cp "$conf" "$SCRATCH/$name.orig"
	check "$name: uci-defaults succeeds" uci_defaults IPKG_INSTROOT="$root"
	check "$name: uci-defaults succeeds again" uci_defaults IPKG_INSTROOT="$root"
	check "$name: installed twice, the include is there once" test "$(sections "$conf")" = 1
	cat "$SCRATCH/$name.orig" "$SCRATCH/section" >"$SCRATCH/$name.expected"
	same "$name: the file is the original plus the section" "$SCRATCH/$name.expected" "$conf"
	: >"$CALLS"
	check "$name: prerm succeeds" prerm IPKG_INSTROOT="$root"
	check "$name: postrm succeeds" postrm IPKG_INSTROOT="$root"
	same "$name: removed, the original is back byte for byte" "$SCRATCH/$name.orig" "$conf"
	check "$name: offline removal runs no command" test ! -s "$CALLS"
}

# As firewall4 ships it (tabs, comments, unquoted values), as `uci commit` writes it (an
# empty line before every section and at the end), and an empty file.
lifecycle stock 'config defaults\n\toption syn_flood\t1\n\toption input\t\tREJECT\n# Uncomment to disable ipv6 rules\n#\toption disable_ipv6\t1\n\nconfig zone\n\toption name\t\tlan\n\tlist   network\t\t'"'lan'"'\n'
lifecycle uci-written "\nconfig defaults\n\toption input 'REJECT'\n\toption flow_offloading '1'\n\nconfig zone\n\toption name 'lan'\n\tlist network 'lan'\n\n"
lifecycle empty ''
# Windows line ends (libuci reads them): the section is still found by its name.
lifecycle crlf 'config defaults\r\n\toption input REJECT\r\n'
root=$(new_root crlf-present)
printf "config include 'fw4_offload'\r\n\toption type 'script'\r\n" >"$root/etc/config/firewall"
cp "$root/etc/config/firewall" "$SCRATCH/crlf-present.orig"
uci_defaults IPKG_INSTROOT="$root"
same "crlf: a section of that name already there: nothing added" \
	"$SCRATCH/crlf-present.orig" "$root/etc/config/firewall"

# A last line without its newline: the one byte removal cannot take back.
root=$(new_root no-newline)
printf 'config defaults\n\toption input REJECT' >"$root/etc/config/firewall"
uci_defaults IPKG_INSTROOT="$root"
check "no final newline: include added as a section of its own" \
	grep -qx "config include 'fw4_offload'" "$root/etc/config/firewall"
prerm IPKG_INSTROOT="$root"
printf 'config defaults\n\toption input REJECT\n' >"$SCRATCH/no-newline.expected"
same "no final newline: removal leaves the original plus its newline" \
	"$SCRATCH/no-newline.expected" "$root/etc/config/firewall"

# A scratch UCI config directory apart from the root: add and remove work there, and
# the root's own config dir stays untouched.
root=$(new_root confdir)
confdir=$SCRATCH/confdir-config
mkdir -p "$confdir"
printf 'config defaults\n\toption input REJECT\n' >"$confdir/firewall"
cp "$confdir/firewall" "$SCRATCH/confdir.orig"
uci_defaults IPKG_INSTROOT="$root" UCI_CONFIG_DIR="$confdir"
check "UCI_CONFIG_DIR: include added there" test "$(sections "$confdir/firewall")" = 1
prerm IPKG_INSTROOT="$root" UCI_CONFIG_DIR="$confdir"
same "UCI_CONFIG_DIR: removed, the original is back" "$SCRATCH/confdir.orig" "$confdir/firewall"
check "UCI_CONFIG_DIR: the root's own config dir untouched" test ! -e "$root/etc/config/firewall"

# A section of that name already there, in other quotes: found, nothing added.
root=$(new_root quoted)
printf 'config include "fw4_offload"\n\toption path /somewhere/else\n' >"$root/etc/config/firewall"
cp "$root/etc/config/firewall" "$SCRATCH/quoted.orig"
uci_defaults IPKG_INSTROOT="$root"
same "a section named fw4_offload already there: nothing added" \
	"$SCRATCH/quoted.orig" "$root/etc/config/firewall"

# After `uci commit` rewrote the file and the user added a section after ours: removal
# takes only our section (and its empty line).
root=$(new_root rewritten)
printf "\nconfig defaults\n\toption input 'REJECT'\n\nconfig include 'fw4_offload'\n\toption type 'script'\n\toption path '/usr/share/fw4-offload/firewall.include'\n\toption fw4_compatible '1'\n\nconfig rule\n\toption name 'Allow-Ping'\n\n" \
	>"$root/etc/config/firewall"
printf "\nconfig defaults\n\toption input 'REJECT'\n\nconfig rule\n\toption name 'Allow-Ping'\n\n" >"$SCRATCH/rewritten.expected"
prerm IPKG_INSTROOT="$root"
same "rewritten by uci, a section after ours: only ours removed" \
	"$SCRATCH/rewritten.expected" "$root/etc/config/firewall"

# No /etc/config/firewall at all: the script succeeds (so it is not retried every boot)
# and creates nothing.
root=$(new_root no-firewall)
check "no firewall config: uci-defaults succeeds" uci_defaults IPKG_INSTROOT="$root"
check "no firewall config: none created" test ! -e "$root/etc/config/firewall"

# An upgrade is not a removal: the include stays, no command runs.
root=$(new_root upgrade)
printf 'config defaults\n' >"$root/etc/config/firewall"
uci_defaults IPKG_INSTROOT="$root"
cp "$root/etc/config/firewall" "$SCRATCH/upgrade.before"
: >"$CALLS"
prerm IPKG_INSTROOT="$root" PKG_UPGRADE=1
postrm PKG_UPGRADE=1
same "upgrade: prerm leaves the include" "$SCRATCH/upgrade.before" "$root/etc/config/firewall"
check "upgrade: postrm runs no command" test ! -s "$CALLS"

# Live router (no IPKG_INSTROOT): postrm deletes the table when it is loaded, then fw4
# renders its own flowtable again.
: >"$CALLS"
postrm
printf '%s\n' "nft list table inet fw4_offload" "nft delete table inet fw4_offload" "fw4 -q reload" \
	>"$SCRATCH/live.expected"
same "live postrm: table deleted, then fw4 reloaded" "$SCRATCH/live.expected" "$CALLS"
: >"$CALLS"
postrm STUB_nft_RC=1 STUB_fw4_RC=1
printf '%s\n' "nft list table inet fw4_offload" "fw4 -q reload" >"$SCRATCH/live-notable.expected"
same "live postrm, no table and fw4 not loaded: nothing deleted, still succeeds" \
	"$SCRATCH/live-notable.expected" "$CALLS"

# The fw4 include (sourced by sh, as fw4 does, with its lock's fd closed): with the daemon
# on ubus it asks for a reload in the background and returns at once; without it nothing
# runs. It never fails fw4.
include=$PWD/files/usr/share/fw4-offload/firewall.include
: >"$CALLS"
env PATH="$STUBS:$PATH" "${RSH[@]}" -c ". '$include'; wait"
printf '%s\n' "ubus -S list offload" "ubus -S call offload reload" >"$SCRATCH/inc-daemon.expected"
same "fw4 include, daemon running: ubus call offload reload" "$SCRATCH/inc-daemon.expected" "$CALLS"
: >"$CALLS"
rc=0
env PATH="$STUBS:$PATH" STUB_ubus_RC=4 "${RSH[@]}" -c ". '$include'; wait" || rc=$?
echo "ubus -S list offload" >"$SCRATCH/inc-stopped.expected"
same "fw4 include, service stopped: nothing applies" "$SCRATCH/inc-stopped.expected" "$CALLS"
check "fw4 include, service stopped: fw4 sees success" test "$rc" = 0

# The reload request does not hold fw4 (which holds its lock meanwhile): a ubus that
# blocks until released does not keep the include from returning.
slow=$SCRATCH/slow-stubs
mkdir -p "$slow"
printf '#!/bin/sh\ncase "$*" in *call*) touch "%s/called"; while [ ! -e "%s/release" ]; do sleep 0.1; done ;; esac\n' \
	"$slow" "$slow" >"$slow/ubus"
chmod +x "$slow/ubus"
check "fw4 include returns while its reload request is still waiting" \
	timeout 20 env PATH="$slow:$PATH" "${RSH[@]}" -c \
	". '$include'; while [ ! -e '$slow/called' ]; do sleep 0.1; done"
touch "$slow/release"
