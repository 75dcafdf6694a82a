# vm/tests/fw4-default.sh RULESET - offload through stock firewall4's own ruleset
#
#   vm/run --file ../shared/fixtures/fw4/ruleset-default.nft:/fw4.nft \
#          vm/tests/fw4-default.sh /fw4.nft
#
# Loads fw4's default ruleset (flowtable ft with counter, `flow offload @ft` first in
# chain forward, IPv4 masquerade on wan) in the router namespace, with the router's
# veths named eth0 (lan, the client side) and eth1 (wan), what the flowtable lists.
# Adapted first: lan/wan device names br-lan/pppoe-wan -> eth0/eth1, `flags offload`
# dropped (veth has no hardware offload), the `rtsp` helper dropped (OpenWrt-only
# module).  Then for TCP/IPv4 and UDP/IPv4 (masqueraded) and TCP/IPv6 flows: the
# entry is [OFFLOAD] while open, an observer chain after fw4's forward chain counts
# only the packets before the offload, the flowtable counter (conntrack accounting) sees them all, and the
# IPv4 replies are addressed to the router's wan address (masquerade).
ROUTER_LAN_DEV=eth0
ROUTER_WAN_DEV=eth1
. /vm/lib.sh

RULESET=${1:-/fw4.nft}
N=20
INTERVAL=50
MAX_SLOW=4   # forwarded packets before the offload: TCP handshake 3, UDP 2

[ -f "$RULESET" ] || { echo "usage: fw4-default.sh RULESET (no $RULESET)"; exit 2; }
topo_up
echo "kernel $(uname -r)"

fw4_adapt "$RULESET" >/tmp/fw4.nft
echo "adapted: br-lan -> eth0, pppoe-wan -> eth1; removed:"
diff -U0 "$RULESET" /tmp/fw4.nft | grep -E '^-[^-]' | grep -v -e br-lan -e pppoe-wan | sed 's/^-/  /'
out=$(nsx $ROUTER_NS nft -f /tmp/fw4.nft 2>&1)
check "stock fw4 ruleset (adapted) loads: $out" test -z "$out"
nsx $ROUTER_NS nft list flowtable inet fw4 ft

# An observer after fw4's forward chain counts the forwarded TCP/UDP packets that
# took the slow path (fw4's own counters also see the router's NDP on output).
nsx $ROUTER_NS nft -f - <<'NFT'
table inet observe {
	chain forward {
		type filter hook forward priority filter + 10; policy accept;
		meta l4proto { tcp, udp } counter
	}
}
NFT
slow_path() { nft_counter $ROUTER_NS inet observe forward 'l4proto'; }

# flow_check NAME PROTO HOST PORT
flow_check() {
	_n=$1 _p=$2 _h=$3 _port=$4
	offloaded_flow "$@" slow_path 30000 || return
	case $_h in
	*:*) ;;
	*) check "$_n: masqueraded (replies go to the router's wan address)" \
		sh -c 'echo "$1" | grep -q "src=$2 dst=$3 sport=$4 "' - "$FLOW_CT" "$SERVER_IP" "$ROUTER_WAN_IP" "$_port" ;;
	esac
	release_client "$_n"
	wait_client "$_n"
	check "$_n: client got every byte back" test $? -eq 0
	stop_servers
}

flow_check tcp4 tcp $SERVER_IP 5001
flow_check udp4 udp $SERVER_IP 5002
flow_check tcp6 tcp $SERVER_IP6 5003

topo_down
summary
