# vm/nft-check.guest.sh - run inside the VM by vm/nft-check (busybox sh).
# /nft/list has one line per file: "<vm path>\t<host name>".  Each file is checked
# with `nft -c -f` in a fresh network namespace that has a dummy device for every
# name the file lists in `devices = { ... }` or `device NAME` (netdev chains).
# Prints "OK   name" or "FAIL name" plus nft's messages; exits 1 if any failed.
. /vm/lib.sh

STRIP_HW_OFFLOAD=${1:-0}

# device names a ruleset mentions (flowtable devices = { a, "b" }; chain ... device "c"),
# one awk (process start-up is what costs time under TCG)
file_devices() {
	awk '
	function emit(x) {
		gsub(/[" \t]/, "", x)
		if (x ~ /^[A-Za-z0-9_.@:-]+$/ && length(x) <= 15 && !(x in seen)) { seen[x] = 1; print x }
	}
	{ sub(/#[^"]*$/, ""); buf = buf " " $0 }
	END {
		s = buf
		while (match(s, /devices[ \t]*=[ \t]*\{[^}]*\}/)) {
			m = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
			sub(/^[^{]*\{/, "", m); sub(/\}$/, "", m)
			n = split(m, a, ","); for (i = 1; i <= n; i++) emit(a[i])
		}
		s = buf
		while (match(s, /(^|[^a-z_])device[ \t]+("[^"]+"|[A-Za-z0-9_.@:-]+)/)) {
			m = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
			sub(/^.*device[ \t]+/, "", m); emit(m)
		}
	}' "$1"
}

ok=0
bad=0
i=0
while IFS='	' read -r path name; do
	i=$((i + 1))
	ns=chk$i
	ip netns add $ns
	devs=$(file_devices "$path" | grep -vx lo)
	{
		echo "link set lo up"
		for d in $devs; do echo "link add $d type dummy"; echo "link set $d up"; done
	} | /sbin/ip -n $ns -force -batch - 2>/tmp/err || echo "  (could not create devices: $(cat /tmp/err))"
	devs=$(echo $devs)
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
		echo "FAIL $name$note (devices: ${devs:-none})"
		printf '%s\n' "$out" | sed "s|$f|$name|g; s/^/    /"
	fi
	ip netns del $ns
done </nft/list

echo "nft-check: $ok ok, $bad failed (kernel $(uname -r), $(nft --version))"
[ $bad -eq 0 ]
