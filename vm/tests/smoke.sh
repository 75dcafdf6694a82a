# vm/tests/smoke.sh - end-to-end flowtable check with plain nft (run: vm/run vm/tests/smoke.sh)
#
# client -> router -> server; the router has an inet flowtable on both its veths and
# a forward chain that adds TCP/UDP flows to it.  For a TCP and a UDP flow (IPv4) and
# a TCP flow over IPv6, while the client holds the connection open:
#   - /proc/net/nf_conntrack shows the entry as [OFFLOAD];
#   - the forward chain's counter grew only by the packets before the flow was
#     offloaded (TCP: the handshake), while the flowtable's counter (conntrack
#     accounting, updated by the fast path because of `counter;`) saw all of them.
# TCP flows leave the flowtable after the FIN.  A control run without `flow add`
# shows the forward chain counting every packet.  Also: `flags offload` on veth is
# refused with "Operation not supported".
. /vm/lib.sh

N=20         # messages per flow (each echoed: >= 2*N packets through the router)
INTERVAL=50  # ms between messages
HOLD=30000   # ms the client keeps the connection open at most (released after the checks)
MAX_SLOW=4   # forward-chain packets allowed per flow (TCP handshake: 3)

topo_up
echo "kernel $(uname -r)"

# control, before any flowtable: without `flow add` the same TCP traffic all goes
# through the forward chain (so its counter does measure the slow path).  The ct
# expression makes the namespace track connections (conntrack hooks register on use).
nsx $ROUTER_NS nft -f - <<EOF
table inet control {
	chain forward {
		type filter hook forward priority filter; policy accept;
		meta l4proto tcp ct state new,established counter
	}
}
EOF
if start_server tcp 5000; then
	start_client control tcp $SERVER_IP 5000 -n $N -i $INTERVAL -h $HOLD
	wait_ready control 30
	cfwd=$(nft_counter $ROUTER_NS inet control forward 'counter')
	ct=$(ct_line tcp 5000)
	echo "control: conntrack: $ct"
	check "control: without flow add the forward chain saw all ${cfwd:-0} >= $((2 * N)) packets" \
		test "${cfwd:-0}" -ge $((2 * N))
	check "control: without flow add the entry is tracked, not [OFFLOAD]" \
		sh -c 'echo "$1" | grep -q "dport=5000 " && ! echo "$1" | grep -q OFFLOAD' - "$ct"
	release_client control
	wait_client control
	stop_servers
else
	fail "control: server"
fi
nsx $ROUTER_NS nft delete table inet control

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
	_n=$1 _p=$2 _port=$4
	offloaded_flow "$@" fwd_packets $HOLD || return
	release_client "$_n"
	wait_client "$_n"
	check "$_n: client got every byte back" test $? -eq 0
	if [ "$_p" = tcp ]; then
		# the FIN goes to the slow path and tears the flow down (flowtable gc: ~1 s)
		check "$_n: after the FIN the entry leaves the flowtable" \
			wait_for 10 sh -c '! /sbin/ip netns exec "$1" cat /proc/net/nf_conntrack | grep "dport=$2 " | grep -q OFFLOAD' - $ROUTER_NS "$_port"
	fi
	stop_servers
}


# an extra base chain for the control run, in the same table (no flow add there, so
# traffic to port 5000 only takes the slow path: forward_control accepts it first)
nsx $ROUTER_NS nft add chain inet fw4_offload forward_control \
	'{ type filter hook forward priority filter; policy accept; }'
nsx $ROUTER_NS nft add rule inet fw4_offload forward_control tcp dport 5000 accept
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
