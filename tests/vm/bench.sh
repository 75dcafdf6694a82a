# tests/vm/bench.sh - apply latency: `fw4-offload apply` (netlink) against `nft -f` of the
# same printed ruleset, side by side in one VM boot (run by bench/run). Each round
# installs the table and removes it again, so every call changes the kernel's state.
# Runs in the VM's own namespace: `ip netns exec` would cost more than what is measured.
ip() { /sbin/ip "$@"; }

ROUNDS=${ROUNDS:-50}
ip link add eth0 type veth peer name peer0
ip link add eth1 type veth peer name peer1
mkdir -p /tmp/on /tmp/off
printf "config defaults\n\toption flow_offloading '%s'\n\nconfig zone\n\toption name 'lan'\n\tlist network 'lan'\n\tlist network 'wan'\n" 1 >/tmp/on/firewall
sed "s/flow_offloading '1'/flow_offloading '0'/" /tmp/on/firewall >/tmp/off/firewall
printf "config interface 'lan'\n\toption device 'eth0'\n\nconfig interface 'wan'\n\toption device 'eth1'\n" >/tmp/on/network
cp /tmp/on/network /tmp/off/network
fw4-offload --config /tmp/on print >/tmp/on.nft
fw4-offload --config /tmp/off print >/tmp/off.nft

# centiseconds since boot
now() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# rounds COMMAND-ON COMMAND-OFF: total centiseconds for ROUNDS on/off pairs
rounds() {
	_start=$(now)
	_i=0
	while [ $_i -lt "$ROUNDS" ]; do
		$1 >/dev/null || { echo "failed: $1" >&2; return 1; }
		$2 >/dev/null || { echo "failed: $2" >&2; return 1; }
		_i=$((_i + 1))
	done
	echo $(($(now) - _start))
}

netlink=$(rounds "fw4-offload --config /tmp/on apply" "fw4-offload --config /tmp/off apply")
nft=$(rounds "nft -f /tmp/on.nft" "nft -f /tmp/off.nft")
calls=$((ROUNDS * 2))
echo "apply (netlink, incl. config + sysfs + state read): $((netlink * 10 / calls)) ms per call"
echo "nft -f of the printed ruleset:                      $((nft * 10 / calls)) ms per call"
awk -v a="$netlink" -v b="$nft" 'BEGIN { printf "ratio netlink/nft: %.2f (%d calls each, TCG VM, kernel %s)\n", a / b, '"$calls"', "'"$(uname -r)"'" }'
