# vm/tests/smoke.sh - end-to-end flowtable check with plain nft (run: vm/run vm/tests/smoke.sh)
#
# client -> router -> server; the router has an inet flowtable on both its veths and
# a forward chain that adds TCP/UDP flows to it.  For a TCP and a UDP flow (IPv4) and
# a TCP flow over IPv6, while the client holds the connection open:
#   - /proc/net/nf_conntrack shows the entry as [OFFLOAD];
#   - the forward chain's counter grew only by the packets before the flow was
#     offloaded (TCP: the handshake), while the flowtable's counter (conntrack
#     accounting, updated by the fast path because of `counter;`) saw all of them.
# Also: `flags offload` on veth is refused with "Operation not supported".
. /vm/lib.sh

N=20         # messages per flow (each echoed: >= 2*N packets through the router)
INTERVAL=50  # ms between messages
HOLD=30000   # ms the client keeps the connection open at most (released after the checks)
MAX_SLOW=4   # forward-chain packets allowed per flow (TCP handshake: 3)

topo_up
echo "kernel $(uname -r)"

nsx $ROUTER_NS nft -f - <<EOF
table inet fw4_offload {
	flowtable ft {
		hook ingress priority filter;
		devices = { $ROUTER_LAN_DEV, $ROUTER_WAN_DEV };
		counter;
	}
	chain forward {
		type filter hook forward priority filter + 1; policy accept;
		meta l4proto { tcp, udp } counter flow add @ft
	}
}
EOF
check "ruleset with a flowtable on veth loads" test $? -eq 0
nsx $ROUTER_NS nft list ruleset

fwd_packets() { nft_counter $ROUTER_NS inet fw4_offload forward 'flow add @ft'; }

# flow_check NAME PROTO HOST PORT
flow_check() {
	_n=$1 _p=$2 _h=$3 _port=$4
	start_server "$_p" "$_port" || { fail "$_n: server"; return; }
	_before=$(fwd_packets)
	start_client "$_n" "$_p" "$_h" "$_port" -n $N -i $INTERVAL -h $HOLD
	if ! wait_ready "$_n" 30; then
		fail "$_n: client did not get its $N echoes"
		wait_client "$_n"
		return
	fi
	# the connection is open now
	_ct=$(ct_line "$_p" "$_port")
	_fwd=$(($(fwd_packets) - _before))
	_ctp=$(ct_packets "$_p" "$_port")
	echo "$_n: conntrack: $_ct"
	echo "$_n: forward chain packets: $_fwd, conntrack packets (both directions): $_ctp"
	check "$_n: conntrack entry is [OFFLOAD] while the connection is open" ct_offloaded "$_p" "$_port"
	check "$_n: forward chain saw only $_fwd <= $MAX_SLOW packets (slow path before offload)" \
		test "$_fwd" -ge 1 -a "$_fwd" -le $MAX_SLOW
	check "$_n: flowtable counter saw $_ctp >= $((2 * N)) packets (fast path)" \
		test "${_ctp:-0}" -ge $((2 * N))
	release_client "$_n"
	wait_client "$_n"
	check "$_n: client got every byte back" test $? -eq 0
	stop_servers
}

flow_check tcp4 tcp $SERVER_IP 5001
flow_check udp4 udp $SERVER_IP 5002
flow_check tcp6 tcp $SERVER_IP6 5003

# hardware offload: veth has no ndo_setup_tc, the kernel refuses
out=$(nsx $ROUTER_NS nft -f - 2>&1 <<EOF
table inet hw_offload {
	flowtable ft {
		hook ingress priority filter;
		devices = { $ROUTER_LAN_DEV, $ROUTER_WAN_DEV };
		flags offload;
	}
}
EOF
)
rc=$?
echo "flags offload on veth: nft exit $rc: $out"
check "flags offload on veth is refused" test $rc -ne 0
check "... with \"Operation not supported\"" sh -c 'echo "$1" | grep -q "Operation not supported"' - "$out"

topo_down
summary
