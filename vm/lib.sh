# vm/lib.sh - helpers for test scripts run by vm/run (busybox sh, inside the VM).
# Source it:  . /vm/lib.sh
#
# Topology (topo_up):
#
#   ns client            ns router                     ns server
#   c-eth0 ------------- r-lan      r-wan ------------ s-eth0
#                        ($ROUTER_LAN_DEV, $ROUTER_WAN_DEV)
#   10.0.1.2/24          10.0.1.1/24  10.0.2.1/24      10.0.2.2/24
#   fd00:1::2/64         fd00:1::1/64 fd00:2::1/64     fd00:2::2/64
#
# client and server route everything via the router, which forwards (IPv4 and IPv6)
# and has conntrack accounting on (packets=/bytes= in /proc/net/nf_conntrack).
#
# Note: busybox sh runs its own reduced `ip` applet before looking at PATH; the
# function below makes `ip` mean iproute2's /sbin/ip in scripts that source this
# file.  Inside `sh -c '...'` strings write /sbin/ip.

ip() { /sbin/ip "$@"; }

# Set any of these before sourcing to change them (e.g. ROUTER_LAN_DEV=eth0 to match
# a ruleset's device names).
CLIENT_NS=${CLIENT_NS:-client}
ROUTER_NS=${ROUTER_NS:-router}
SERVER_NS=${SERVER_NS:-server}
CLIENT_IP=10.0.1.2
ROUTER_LAN_IP=10.0.1.1
ROUTER_WAN_IP=10.0.2.1
SERVER_IP=10.0.2.2
CLIENT_IP6=fd00:1::2
SERVER_IP6=fd00:2::2
ROUTER_LAN_DEV=${ROUTER_LAN_DEV:-r-lan}
ROUTER_WAN_DEV=${ROUTER_WAN_DEV:-r-wan}

# ------------------------------------------------------------------ assertions
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }

# check DESCRIPTION COMMAND...: runs COMMAND, counts and prints the result
check() {
	_desc=$1
	shift
	if "$@"; then pass "$_desc"; else fail "$_desc"; fi
}

# summary: prints "N passed, N failed"; returns 1 if anything failed
summary() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# ------------------------------------------------------------------ namespaces
# nsx NS CMD...: run CMD in network namespace NS
nsx() {
	_ns=$1
	shift
	/sbin/ip netns exec "$_ns" "$@"
}

# sysctl_ns NS KEY VALUE
sysctl_ns() { nsx "$1" sysctl -qw "$2=$3" >/dev/null; }

topo_up() {
	for _ns in $CLIENT_NS $ROUTER_NS $SERVER_NS; do
		ip netns add $_ns
		nsx $_ns /sbin/ip link set lo up
	done
	ip link add c-eth0 netns $CLIENT_NS type veth peer name $ROUTER_LAN_DEV netns $ROUTER_NS
	ip link add s-eth0 netns $SERVER_NS type veth peer name $ROUTER_WAN_DEV netns $ROUTER_NS

	# no DAD: addresses are usable at once
	for _ns in $CLIENT_NS $ROUTER_NS $SERVER_NS; do
		sysctl_ns $_ns net.ipv6.conf.all.accept_dad 0
		sysctl_ns $_ns net.ipv6.conf.default.accept_dad 0
	done

	nsx $CLIENT_NS /sbin/ip addr add $CLIENT_IP/24 dev c-eth0
	nsx $CLIENT_NS /sbin/ip addr add $CLIENT_IP6/64 dev c-eth0 nodad
	nsx $CLIENT_NS /sbin/ip link set c-eth0 up
	nsx $CLIENT_NS /sbin/ip route add default via $ROUTER_LAN_IP
	nsx $CLIENT_NS /sbin/ip -6 route add default via fd00:1::1

	nsx $SERVER_NS /sbin/ip addr add $SERVER_IP/24 dev s-eth0
	nsx $SERVER_NS /sbin/ip addr add $SERVER_IP6/64 dev s-eth0 nodad
	nsx $SERVER_NS /sbin/ip link set s-eth0 up
	nsx $SERVER_NS /sbin/ip route add default via $ROUTER_WAN_IP
	nsx $SERVER_NS /sbin/ip -6 route add default via fd00:2::1

	nsx $ROUTER_NS /sbin/ip addr add $ROUTER_LAN_IP/24 dev $ROUTER_LAN_DEV
	nsx $ROUTER_NS /sbin/ip addr add fd00:1::1/64 dev $ROUTER_LAN_DEV nodad
	nsx $ROUTER_NS /sbin/ip addr add $ROUTER_WAN_IP/24 dev $ROUTER_WAN_DEV
	nsx $ROUTER_NS /sbin/ip addr add fd00:2::1/64 dev $ROUTER_WAN_DEV nodad
	nsx $ROUTER_NS /sbin/ip link set $ROUTER_LAN_DEV up
	nsx $ROUTER_NS /sbin/ip link set $ROUTER_WAN_DEV up
	sysctl_ns $ROUTER_NS net.ipv4.ip_forward 1
	sysctl_ns $ROUTER_NS net.ipv6.conf.all.forwarding 1
	sysctl_ns $ROUTER_NS net.netfilter.nf_conntrack_acct 1
}

topo_down() {
	stop_servers
	for _ns in $CLIENT_NS $ROUTER_NS $SERVER_NS; do
		ip netns del $_ns 2>/dev/null
	done
	return 0
}

# ------------------------------------------------------------------ traffic
SERVER_PIDS=

# wait_for TIMEOUT_S COMMAND...: poll COMMAND every 0.1 s until it succeeds, for at most
# TIMEOUT_S seconds of uptime (however long COMMAND itself takes)
wait_for() {
	_until=$(($(cut -d. -f1 /proc/uptime) + $1))
	shift
	until "$@"; do
		[ "$(cut -d. -f1 /proc/uptime)" -lt "$_until" ] || return 1
		sleep 0.1
	done
}

_listening() { # NS tcp|udp PORT
	nsx "$1" netstat -ln 2>/dev/null | grep -q "^$2.*:$3 "
}

# start_server tcp|udp PORT [NS]: start an echo server (default ns: server) in the
# background and wait until it listens
start_server() {
	_ns=${3:-$SERVER_NS}
	nsx "$_ns" traffic server "$1" "$2" &
	SERVER_PIDS="$SERVER_PIDS $!"
	wait_for 5 _listening "$_ns" "$1" "$2" || { echo "server $1/$2 did not start"; return 1; }
}

stop_servers() {
	for _p in $SERVER_PIDS; do kill "$_p" 2>/dev/null; done
	for _p in $SERVER_PIDS; do wait "$_p" 2>/dev/null; done
	SERVER_PIDS=
	return 0
}

# start_client NAME tcp|udp HOST PORT [traffic client options...]: start a client in
# the client ns in the background.  Its output goes to /tmp/NAME.out; it creates
# /tmp/NAME.ready when all messages are echoed and it starts holding the connection,
# which it closes after -h MS or as soon as release_client NAME is called.
# Its pid is in CLIENT_PID (wait_client NAME collects its exit status).
start_client() {
	_name=$1 _proto=$2 _host=$3 _port=$4
	shift 4
	rm -f /tmp/$_name.ready /tmp/$_name.out /tmp/$_name.release
	nsx $CLIENT_NS traffic client "$_proto" -r /tmp/$_name.ready -u /tmp/$_name.release \
		"$@" "$_host" "$_port" \
		>/tmp/$_name.out 2>&1 &
	CLIENT_PID=$!
	eval "CLIENT_PID_$_name=$CLIENT_PID"
}

# wait_ready NAME [TIMEOUT_S]: wait until client NAME holds its connection open
wait_ready() {
	wait_for "${2:-30}" test -e /tmp/$1.ready
}

# release_client NAME: let client NAME close its connection now
release_client() { touch /tmp/$1.release; }

# wait_client NAME: wait for client NAME to finish; prints its output; returns its status
wait_client() {
	eval "_pid=\$CLIENT_PID_$1"
	wait "$_pid"
	_rc=$?
	sed "s/^/  [$1] /" /tmp/$1.out
	return $_rc
}

# ------------------------------------------------------------------ conntrack
# ct_dump [NS]: /proc/net/nf_conntrack of NS (default: router)
ct_dump() { nsx "${1:-$ROUTER_NS}" cat /proc/net/nf_conntrack; }

# ct_line PROTO DPORT [NS]: the conntrack entries of PROTO (tcp/udp) to DPORT
ct_line() {
	ct_dump "$3" | awk -v p="$1" -v d="dport=$2" '{ for (i = 1; i <= NF; i++) if ($i == p) { for (j = i; j <= NF; j++) if ($j == d) { print; next } } }'
}

# ct_offloaded PROTO DPORT [NS]: true if such an entry is marked [OFFLOAD]
ct_offloaded() { ct_line "$@" | grep -q '\[OFFLOAD\]'; }

# ct_packets PROTO DPORT [NS]: packets= summed over both directions (accounting on)
ct_packets() {
	ct_line "$@" | head -n 1 | awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^packets=/) { sub(/packets=/, "", $i); n += $i } print n }'
}

# ------------------------------------------------------------------ nft counters
# nft_counter NS FAMILY TABLE CHAIN PATTERN: packets of the first rule in CHAIN whose
# `nft list chain` line matches PATTERN (awk regex) and has a counter
nft_counter() {
	nsx "$1" nft list chain "$2" "$3" "$4" | awk -v pat="$5" '
		$0 ~ pat && /counter packets/ {
			for (i = 1; i <= NF; i++) if ($i == "packets") { print $(i + 1); exit }
		}'
}

# nft_named_counter NS FAMILY TABLE NAME: packets of a named counter object
nft_named_counter() {
	nsx "$1" nft list counter "$2" "$3" "$4" | awk '{ for (i = 1; i <= NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}

# ------------------------------------------------------------------ offload checks
# offloaded_flow NAME PROTO HOST PORT SLOW_FN HOLD_MS: starts a server and a client that
# sends N messages every INTERVAL ms and then holds the connection open; checks, while it
# is open, that conntrack shows [OFFLOAD], that SLOW_FN (a function printing a packet
# counter of the slow path) grew by 1..MAX_SLOW, and that conntrack accounting saw the
# other 2N - MAX_SLOW packets (the fast path). Returns 1 if the flow never got going.
# Leaves the client holding the connection (release_client NAME, wait_client NAME) and
# its conntrack line in FLOW_CT. With KEEPALIVE=MS set, the client sends a message every
# MS while it holds (a flow idle for 30 s leaves the flowtable).
offloaded_flow() {
	_n=$1 _p=$2 _h=$3 _port=$4 _slow_fn=$5 _hold=$6
	start_server "$_p" "$_port" || { fail "$_n: server"; return 1; }
	_before=$($_slow_fn)
	start_client "$_n" "$_p" "$_h" "$_port" -n "$N" -i "$INTERVAL" -h "$_hold" ${KEEPALIVE:+-k "$KEEPALIVE"}
	if ! wait_ready "$_n" 30; then
		fail "$_n: client did not get its $N echoes"
		wait_client "$_n"
		return 1
	fi
	FLOW_CT=$(ct_line "$_p" "$_port")
	_slow=$(($($_slow_fn) - _before))
	_ctp=$(ct_packets "$_p" "$_port")
	echo "$_n: conntrack: $FLOW_CT"
	echo "$_n: slow-path packets: $_slow, conntrack packets (both directions): $_ctp"
	check "$_n: conntrack entry is [OFFLOAD] while the connection is open" ct_offloaded "$_p" "$_port"
	check "$_n: only $_slow <= $MAX_SLOW packets took the slow path" \
		test "$_slow" -ge 1 -a "$_slow" -le "$MAX_SLOW"
	# conntrack accounting counts slow-path packets itself and fast-path ones through
	# the flowtable's counter; what the slow path did not see took the fast path
	_fast=$((${_ctp:-0} - _slow))
	check "$_n: $_fast >= $((2 * N - MAX_SLOW)) packets took the fast path (conntrack $_ctp - slow path $_slow)" \
		test $_fast -ge $((2 * N - MAX_SLOW))
}

# ------------------------------------------------------------------ firewall4
# fw4_adapt RULESET: stock fw4 output (tests/fixtures/fw4) made loadable here, on
# stdout: its devices br-lan/pppoe-wan renamed eth0/eth1 (set ROUTER_LAN_DEV=eth0
# ROUTER_WAN_DEV=eth1 before sourcing this file), `flags offload` dropped (veth has no
# hardware offload), the `rtsp` helper dropped (an OpenWrt-only module).
fw4_adapt() {
	sed -e 's/"br-lan"/"eth0"/g; s/"pppoe-wan"/"eth1"/g' \
		-e '/^[[:space:]]*flags offload;[[:space:]]*$/d' \
		-e '/ct helper set "rtsp"/d' "$1" |
		awk '/^[[:space:]]*ct helper rtsp \{/ { skip = 1 } !skip { print } skip && /\}/ { skip = 0 }'
}

# ------------------------------------------------------------------ the daemon
# daemon_start DEBOUNCE_MS: `fw4-offload daemon` in the router namespace (ROUTER_LAN_DEV
# eth0, ROUTER_WAN_DEV eth1) with the config in /tmp/cfg: zone lan on eth0 and r-guest
# (which tests create and delete with guest_add and guest_del), zone wan on eth1. Its
# ubusd socket is UBUS_SOCK (default: none, it keeps trying); no syslog (it logs to
# /tmp/daemon.log). Sets DAEMON.
daemon_start() {
	mkdir -p /tmp/cfg
	cat >/tmp/cfg/firewall <<'UCI'
config defaults
	option flow_offloading '1'

config zone
	option name 'lan'
	list network 'lan'
	list network 'guest'

config zone
	option name 'wan'
	list network 'wan'
UCI
	cat >/tmp/cfg/network <<'UCI'
config interface 'lan'
	option device 'eth0'

config interface 'guest'
	option device 'r-guest'

config interface 'wan'
	option device 'eth1'
UCI
	# ip netns exec execs the daemon itself: $! is its pid (nsx, a function, would fork).
	/sbin/ip netns exec "$ROUTER_NS" fw4-offload --config /tmp/cfg \
		-s "${UBUS_SOCK:-/nonexistent/ubus.sock}" --syslog /nonexistent/log --debounce "$1" daemon 2>/tmp/daemon.log &
	# shellcheck disable=SC2034 # the caller's
	DAEMON=$!
}

# has_device NAME / lacks_device NAME: the router's fw4_offload flowtable lists NAME, or
# is loaded without it
has_device() { nsx "$ROUTER_NS" nft list flowtable inet fw4_offload ft 2>/dev/null | grep -q "devices = {.*$1"; }
lacks_device() {
	nsx "$ROUTER_NS" nft list flowtable inet fw4_offload ft 2>/dev/null | grep -q 'devices' &&
		! has_device "$1"
}
guest_add() {
	ip link add r-guest netns "$ROUTER_NS" type veth peer name r-guest-p netns "$ROUTER_NS"
	nsx "$ROUTER_NS" /sbin/ip link set r-guest up
}
guest_del() { nsx "$ROUTER_NS" /sbin/ip link del r-guest; }
