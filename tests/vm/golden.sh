# tests/vm/golden.sh TARBALL - every golden case applied over netlink on a real kernel
# (run by tests/vm-golden). Each case gets a namespace with a dummy device for every
# device its snapshot names; `fw4-offload --root CASE apply` loads the plan (with
# `--netifd CASE/netifd.json` where the case has netifd's dump); the table
# `nft list` shows must be what `fw4-offload print` shows, modulo formatting, and
# without `flags offload` where the kernel refused hardware (dummies have none).
. /vm/lib.sh

mkdir -p /tmp/golden
tar -xf "${1:-/golden.tar}" -C /tmp/golden

normalize() {
	sed -e '/^#/d; /^table inet fw4_offload$/d; /^delete table/d' \
		-e 's/"//g; s/priority 0;/priority filter;/' -e 's/counter packets [0-9]* bytes [0-9]*/counter/' \
		-e 's/^[[:space:]]*//; s/;$//; /^$/d'
}

for case in /tmp/golden/*/; do
	name=$(basename "$case")
	ip netns add g
	for dev in $(ls "$case/sys/class/net"); do
		[ "$dev" = lo ] || /sbin/ip -n g link add "$dev" type dummy 2>/dev/null ||
			echo "$name: cannot create $dev"
	done
	set -- --root "$case"
	[ -f "$case/netifd.json" ] && set -- "$@" --netifd "$case/netifd.json"
	out=$(ip netns exec g fw4-offload "$@" apply 2>&1)
	rc=$?
	check "$name: apply succeeds" test $rc -eq 0 || echo "$out"
	strip=cat
	if printf '%s\n' "$out" | grep -q '^fallback:'; then strip="grep -v '^flags offload$'"; fi
	ip netns exec g fw4-offload "$@" print | normalize | eval "$strip" >/tmp/printed
	ip netns exec g nft list table inet fw4_offload 2>/dev/null | normalize >/tmp/listed
	if diff /tmp/printed /tmp/listed >/tmp/diff; then
		pass "$name: nft list matches print$([ "$strip" = cat ] || echo ' (hardware refused by dummies)')"
	else
		fail "$name: nft list differs from print"
		cat /tmp/diff
	fi
	ip netns del g
done
summary
