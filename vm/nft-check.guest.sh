# vm/nft-check.guest.sh - run inside the VM by vm/nft-check (busybox sh).
# /nft/list has one line per file: "<vm path>\t<host name>".  Each file is checked
# with `nft -c -f` in a fresh network namespace that has a dummy device for every
# name the file lists in `devices = { ... }` or `device NAME` (netdev chains).
# Prints "OK   name" or "FAIL name" plus nft's messages; exits 1 if any failed.
. /vm/lib.sh

STRIP_HW_OFFLOAD=${1:-0}

# device names a ruleset mentions (flowtable devices = { a, "b" }; chain ... device "c")
file_devices() {
	tr '\n\t' '  ' <"$1" | sed 's/#[^"]*$//' >/tmp/flat
	{
		grep -oE 'devices[[:space:]]*=[[:space:]]*\{[^}]*\}' /tmp/flat |
			sed 's/^[^{]*{//; s/}$//' | tr ',' '\n'
		grep -oE '(^|[^a-z_])device[[:space:]]+("[^"]+"|[A-Za-z0-9_.@:-]+)' /tmp/flat |
			sed -E 's/^.*device[[:space:]]+//'
	} | tr -d '" ' | grep -E '^[A-Za-z0-9_.@:-]{1,15}$' | sort -u
}

ok=0
bad=0
i=0
while IFS='	' read -r path name; do
	i=$((i + 1))
	ns=chk$i
	ip netns add $ns
	nsx $ns /sbin/ip link set lo up
	devs=
	for d in $(file_devices "$path"); do
		[ "$d" = lo ] && continue
		if nsx $ns /sbin/ip link add "$d" type dummy 2>/tmp/err && nsx $ns /sbin/ip link set "$d" up; then
			devs="$devs $d"
		else
			echo "  (could not create device $d: $(cat /tmp/err))"
		fi
	done
	f=$path
	note=
	if [ "$STRIP_HW_OFFLOAD" = 1 ] && grep -q 'flags[[:space:]][[:space:]]*offload' "$f"; then
		sed -E 's/flags[[:space:]]+offload[[:space:]]*;?//' "$f" >/tmp/stripped.nft
		f=/tmp/stripped.nft
		note=" (flags offload removed)"
	fi
	if out=$(cd "$(dirname "$path")" && nsx $ns nft -c -f "$f" 2>&1); then
		ok=$((ok + 1))
		echo "OK   $name$note"
	else
		bad=$((bad + 1))
		echo "FAIL $name$note (devices:${devs:- none})"
		printf '%s\n' "$out" | sed "s|$f|$name|g; s/^/    /"
	fi
	ip netns del $ns
done </nft/list

echo "nft-check: $ok ok, $bad failed (kernel $(uname -r), $(nft --version))"
[ $bad -eq 0 ]
