# tests/openwrt/scenario.sh - the user's path on an OpenWrt-like guest (tests/openwrt-guest),
# run by procd (PID 1) once the boot is complete: ubusd, netifd, fw4, rpcd and uhttpd
# are up as OpenWrt's init scripts started them. The client and the server are network
# namespaces behind veth "ports": lan1 (client) and lan2 in br-lan, wan (server) carrying
# VLAN 7 (a static wan and wan6) and VLAN 8 (PPPoE to pppoe-server in the server). Steps:
#   1. the .apk (25.12) installed: uci-defaults adds the include, procd starts the
#      daemon; offloading switched on with uci and the firewall restarted: the table holds
#      the ports under the devices netifd created, fw4's ft is gone, TCP and UDP flows over
#      the VLAN and the PPPoE wan are [OFFLOAD]; the times from the restart to the table
#      and to an offloaded flow;
#   2. `ubus call offload status` through ubusd; through rpcd (and uhttpd's /ubus, as
#      LuCI calls), a session with the read ACL gets status, flows and devices and is
#      refused reload;
#   3. firewall reload and network reload leave the flows offloaded; ifup wan (down and
#      up) leaves the PPPoE wan's flow and the flowtable, and new flows over wan offload;
#      wan's own flows lose their conntrack entries to the kernel's masquerade, as its
#      trace and events show (ifup_wan), as with stock fw4's offloading (the control, 7.);
#   4. kill -9: procd respawns the daemon; a burst of device changes applies once;
#   5. the defects of issue 11, fixed: fw4 reloads return while the include's request
#      waits; a stopped service applies nothing; a firewall config change reaches the
#      daemon once; a failed apply fails `reload`; an upgrade runs the new binary (7.);
#   6. offloading off: fw4's own ruleset alone; on again;
#   7. apk del; the control: ifup wan with fw4's own offloading ends wan's flows alike;
#      then apk (25.12) and opkg (.ipk, 24.10) each: install, upgrade to a rebuilt
#      package (its binary runs), the add-ons (luci-app-fw4-offload and the Prometheus
#      collector) installed (files in place, rpcd grants the LuCI ACL, the menu parses)
#      and removed (rpcd drops the ACL, the root's file list as before), removal (include
#      gone, /etc/config/firewall byte for byte, table gone, fw4's own offloading back); a
#      sysupgrade-style config restore adds no second include.
# shellcheck source=vm/lib.sh
. /vm/lib.sh

PKGS=/root/pkgs
N=10
INTERVAL=50
HOLD=600000
KEEPALIVE=200
SERVER_VLAN=10.7.0.2
SERVER_PPP=10.64.0.1
WAN_ADDR=10.7.0.1

# ------------------------------------------------------------------ helpers
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
step() { echo; echo "== $* (uptime $(cut -d' ' -f1 /proc/uptime) s)"; }
# js EXPR: EXPR, a ucode expression over the JSON document on stdin (`d`), printed.
js() { ucode -l fs -e "let d = json(fs.stdin.read('all')); print($1, '\n');"; }
ft_devices() {
	nft list flowtable inet fw4_offload ft 2>/dev/null |
		sed -n 's/.*devices = { \(.*\) }.*/\1/p' | tr -d '" ' | tr ',' '\n' | sort | tr '\n' ' '
}
has_table() { nft list table inet fw4_offload >/dev/null 2>&1; }
fw4_has_ft() { nft list flowtable inet fw4 ft >/dev/null 2>&1; }
fw4_offload_rule() { nft list chain inet fw4 forward | grep -q "flow add @ft"; }
table_handle() { nft -a list flowtable inet fw4_offload ft 2>/dev/null | sed -n 's/.*# handle \([0-9]*\)$/\1/p' | head -n 1; }
daemon_pid() {
	ubus call service list '{"name":"fw4-offload"}' 2>/dev/null |
		js "d['fw4-offload']?.instances?.instance1?.pid ?? ''"
}
# offload_rule_packets: the slow-path packets our forward rule counted
offload_rule_packets() { nft_counter router inet fw4_offload forward 'flow add'; }
include_sections() { grep -c "^config include 'fw4_offload'\$" /etc/config/firewall; }
offloaded() { ct_offloaded "$1" "$2"; }
# since_t0_when COMMAND...: milliseconds from t0 until COMMAND holds (at most 120 s)
since_t0_when() {
	until "$@" || [ $(($(now_ms) - t0)) -ge 120000 ]; do :; done
	echo $(($(now_ms) - t0))
}
# offloaded_by_us PROTO PORT: [OFFLOAD], and our rule has sent packets to our flowtable
offloaded_by_us() { offloaded "$1" "$2" && [ "$(offload_rule_packets)" -gt 0 ]; }
ours_loaded() { has_table && ! fw4_has_ft; }
on_ubus() { ubus list offload >/dev/null 2>&1; }
daemon_runs() { [ -n "$(daemon_pid)" ]; }
# daemon_replaced PID: a daemon runs, and not as PID
daemon_replaced() { _p=$(daemon_pid) && [ -n "$_p" ] && [ "$_p" != "$1" ]; }
# bridged PORT...: the ports are in br-lan
bridged() { for _d; do [ -e "/sys/class/net/br-lan/brif/$_d" ] || return 1; done; }
# in_flowtable DEV...: the devices are in our flowtable
in_flowtable() { for _d; do ft_devices | grep -q "$_d " || return 1; done; }
not() { ! "$@"; }
# apk refuses a file package on a root that does not survive a reboot (this initramfs;
# a router's overlay does) unless told
apk_add() { apk add --no-progress --allow-untrusted --force-non-repository "$@"; }
last_apply_time() { ubus call offload status | js d.last_apply.time; }
# applied_since TIME: the daemon applied after TIME
applied_since() { [ "$(last_apply_time)" -gt "$1" ]; }
# pending_reloads: `ubus call offload reload` requests still waiting for an answer
# shellcheck disable=SC2009 # the guest's busybox has no pgrep
pending_reloads() { ps w | grep -c '[u]bus -S call offload reload'; }
not_pending() { [ "$(pending_reloads)" = 0 ]; }
quiet() { "$@" >/dev/null 2>&1; }
# access SESSION METHOD: whether rpcd grants the session the offload method
access() {
	ubus call session access "{\"ubus_rpc_session\":\"$1\",\"scope\":\"ubus\",\"object\":\"offload\",\"function\":\"$2\"}" |
		js d.access
}
# reloads_in LOG: the `reload` calls ubusd passed on to object offload (`ubus monitor`
# shows each call twice: "<-" from the caller, "->" to the object)
reloads_in() { grep -c '^->.*invoke.*"method":"reload"' "$1"; }

# flow NAME PROTO HOST PORT: a client holding a connection that sends every KEEPALIVE ms
flow() {
	start_server "$2" "$4" || { fail "$1: server on port $4"; return 1; }
	start_client "$1" "$2" "$3" "$4" -n "$N" -i "$INTERVAL" -h "$HOLD" -k "$KEEPALIVE"
	wait_ready "$1" 60 || { fail "$1: the client got no echoes"; return 1; }
}
# the ports of the flows over the VLAN wan (new ones after `ifup wan`) and the PPPoE wan
VLAN_TCP=5001
VLAN_UDP=5002
PPP_TCP=5003
all_offloaded() {
	offloaded tcp $VLAN_TCP && offloaded udp $VLAN_UDP && offloaded tcp $PPP_TCP
}

# ------------------------------------------------------------------ the wires
# The router is the guest's own namespace (netifd's); lib.sh reads it as "router".
wires_up() {
	ip netns attach router 1
	for ns in client server spare; do
		ip netns add $ns
		nsx $ns /sbin/ip link set lo up
	done
	ip link add lan1 type veth peer name eth0 netns client
	ip link add lan2 type veth peer name eth0 netns spare
	ip link add wan type veth peer name eth0 netns server
	nsx client /sbin/ip addr add 192.168.1.100/24 dev eth0
	nsx client /sbin/ip addr add fd00:1::100/64 dev eth0 nodad
	nsx client /sbin/ip link set eth0 up
	nsx client /sbin/ip route add default via 192.168.1.1
	nsx client /sbin/ip -6 route add default via fd00:1::1
	nsx spare /sbin/ip link set eth0 up
	nsx server /sbin/ip link set eth0 up
	nsx server /sbin/ip link add link eth0 name eth0.7 type vlan id 7
	nsx server /sbin/ip link add link eth0 name eth0.8 type vlan id 8
	nsx server /sbin/ip addr add $SERVER_VLAN/24 dev eth0.7
	nsx server /sbin/ip addr add fd00:7::2/64 dev eth0.7 nodad
	nsx server /sbin/ip link set eth0.7 up
	nsx server /sbin/ip link set eth0.8 up
	nsx server /sbin/ip -6 route add fd00:1::/64 via fd00:7::1
	sysctl -qw net.netfilter.nf_conntrack_acct=1
	# every entry gets its event cache when it is created (by default only those created
	# while a listener runs): ifup_wan's conntrack -E sees the DESTROY of older flows
	sysctl -qw net.netfilter.nf_conntrack_events=1
	# the PPPoE server's pppd: no authentication, echo requests to notice a lost peer
	printf 'noauth\nlcp-echo-interval 10\nlcp-echo-failure 3\n' >/tmp/pppoe-server-options
	nsx server pppoe-server -I eth0.8 -L $SERVER_PPP -R 10.64.0.2 -N 4 \
		-O /tmp/pppoe-server-options
}

iface_up() { ubus call "network.interface.$1" status 2>/dev/null | grep -q '"up": true'; }
iface_uptime() { ubus call "network.interface.$1" status | js 'd.uptime ?? -1'; }
# iface_restarted IFACE UPTIME: IFACE is up again, for less time than UPTIME said before
iface_restarted() { iface_up "$1" && [ "$(iface_uptime "$1")" -lt "$2" ]; }

# ------------------------------------------------------------------ steps
boot() {
	step "boot: procd, ubusd, netifd, fw4, rpcd"
	check "procd is PID 1" test "$(readlink /proc/1/exe)" = /usr/sbin/procd
	check "ubusd runs, started by procd" quiet ubus list service
	check "netifd is on ubus" quiet ubus list network.interface
	check "rpcd is on ubus" quiet ubus list session
	check "fw4 loaded its ruleset at boot" quiet nft list table inet fw4
	wires_up
	check "netifd: lan up on br-lan with lan1 and lan2" \
		wait_for 60 bridged lan1 lan2
	check "netifd: lan is up" wait_for 60 iface_up lan
	check "netifd: wan is up on VLAN device wan.7" wait_for 60 iface_up wan
	if wait_for 90 iface_up wanppp; then
		pass "netifd: wanppp is up, PPPoE over wan.8 ($(ubus call network.interface.wanppp status | js "d.l3_device"))"
	else
		fail "netifd: wanppp (PPPoE) did not come up"
		logread | grep -i ppp | tail -n 20
	fi
	ubus call network.interface dump | js "join(' ', map(d.interface, i => i.interface + ':' + i.device + '/' + i.l3_device + (i.up ? ':up' : ':down')))"
	# the wan zone covers the PPPoE wan too (as a user configures it)
	uci add_list firewall.@zone[1].network=wanppp
	uci commit firewall
	fw4 -q reload
}

install_apk() {
	step "install the .apk (25.12)"
	cp /etc/config/firewall /tmp/firewall.before-install
	if apk_add $PKGS/1/fw4-offload-*.apk; then
		pass "apk add fw4-offload"
	else
		fail "apk add fw4-offload"
	fi
	check "uci-defaults added the include once" test "$(include_sections)" = 1
	check "... and was removed after it ran" test ! -e /etc/uci-defaults/90-fw4-offload
	check "the service is enabled" test -L /etc/rc.d/S20fw4-offload
	check "procd started the daemon" wait_for 60 daemon_runs
	check "the daemon registered object offload on ubusd" wait_for 60 on_ubus
}

offload_on() {
	step "switch offloading on and restart the firewall"
	flow tcp_vlan tcp $SERVER_VLAN $VLAN_TCP
	flow udp_vlan udp $SERVER_VLAN $VLAN_UDP
	flow tcp_ppp tcp $SERVER_PPP $PPP_TCP
	check "not offloaded before" not offloaded tcp $VLAN_TCP
	uci set firewall.@defaults[0].flow_offloading=1
	uci set firewall.@defaults[0].flow_offloading_hw=1
	uci commit firewall
	# The daemon sends offload.applied right after the batch that loads its table and
	# deletes fw4's ft; the flow is polled for (late by at most one poll, timed below).
	(ubus -t 150 listen offload.applied | while read -r _; do now_ms; done >/tmp/applied.ms) &
	sleep 1
	t0=$(now_ms)
	/etc/init.d/firewall restart &
	restart=$!
	wait_for 120 test -s /tmp/applied.ms
	t_table=$(($(head -n 1 /tmp/applied.ms) - t0))
	t_flow=$(since_t0_when offloaded_by_us tcp $VLAN_TCP)
	p0=$(now_ms)
	offloaded_by_us tcp $VLAN_TCP
	p1=$(now_ms)
	wait "$restart"
	t_restart=$(($(now_ms) - t0))
	echo "figures: firewall restart began at 0 and returned at ${t_restart} ms; table inet fw4_offload loaded (fw4's ft deleted in the same batch) at ${t_table} ms; the running TCP flow offloaded through it at ${t_flow} ms (one poll: $((p1 - p0)) ms)"
	check "fw4 loaded its ruleset" quiet nft list chain inet fw4 forward
	check "the include reached the daemon (last apply: ubus reload)" \
		test "$(ubus call offload status | js d.last_apply.trigger)" = "ubus reload"
	check "table inet fw4_offload is loaded" has_table
	check "fw4's flowtable ft is gone" wait_for 60 not fw4_has_ft
	check "fw4's flow offload rule is gone" wait_for 60 not fw4_offload_rule

	# fw4 takes netifd's device of each zone network (falling back to software on veth);
	# the helper, asked for hardware, offloads where packets enter: the ports under them
	fw4_devs=$(fw4 print | sed -n '/flowtable ft/,/}/s/.*devices = { \(.*\) }.*/\1/p' | tr -d '",')
	expected=$(for d in $fw4_devs; do ports "$d"; done | sort -u | tr '\n' ' ')
	echo "flowtable devices: $(ft_devices); fw4's: $fw4_devs; the ports under those: $expected"
	check "the flowtable holds the ports of the devices netifd created" test "$(ft_devices)" = "$expected"
	check "tcp over the VLAN wan is [OFFLOAD]" wait_for 60 offloaded tcp $VLAN_TCP
	check "udp over the VLAN wan is [OFFLOAD]" wait_for 60 offloaded udp $VLAN_UDP
	check "tcp over the PPPoE wan is [OFFLOAD]" wait_for 60 offloaded tcp $PPP_TCP
}

# ports DEV: the devices packets enter DEV through: a bridge's ports, a VLAN's lower
# device, recursively; DEV itself when it has neither
ports() {
	_l=$(ls -d /sys/class/net/"$1"/brif/* /sys/class/net/"$1"/lower_* 2>/dev/null)
	[ -n "$_l" ] || { echo "$1"; return; }
	for _p in $_l; do ports "$(basename "${_p#*/lower_}")"; done
}

ubus_rpcd() {
	step "ubus and rpcd"
	status=$(ubus call offload status)
	check "ubus call offload status answers through ubusd" \
		test -n "$(echo "$status" | js d.requested)"
	echo "status: requested $(echo "$status" | js d.requested), effective $(echo "$status" | js d.effective)"
	# a login with the fw4-offload ACL group's read access (crypt(3) password, as rpcd takes)
	uci add rpcd login >/dev/null
	uci set rpcd.@login[-1].username=reader
	uci set rpcd.@login[-1].password="$(mkpasswd -m md5 reader-secret)"
	uci add_list rpcd.@login[-1].read=fw4-offload
	# and one with the LuCI app's group, which only luci-app-fw4-offload brings (addons)
	uci add rpcd login >/dev/null
	uci set rpcd.@login[-1].username=luci
	uci set rpcd.@login[-1].password="$(mkpasswd -m md5 luci-secret)"
	uci add_list rpcd.@login[-1].read=luci-app-fw4-offload
	uci commit rpcd
	/etc/init.d/rpcd reload
	sleep 1
	sid=$(ubus call session login '{"username":"reader","password":"reader-secret"}' | js d.ubus_rpc_session)
	check "rpcd: the reader logs in" test -n "$sid"
	for m in status flows devices; do
		check "rpcd ACL: the reader may call offload $m" test "$(access "$sid" "$m")" = true
		check "uhttpd /ubus: the reader's offload $m answers" test "$(jsonrpc "$sid" "$m" | js 'd.result[0]')" = 0
	done
	check "rpcd ACL: the reader may not call offload reload" test "$(access "$sid" reload)" = false
	check "uhttpd /ubus: the reader's offload reload is refused (access denied)" \
		test "$(jsonrpc "$sid" reload | js 'd.error.code')" = -32002
}

# jsonrpc SESSION METHOD: LuCI's way to ubus, JSON-RPC to uhttpd's /ubus handler
jsonrpc() {
	wget -q -O - --header 'Content-Type: application/json' --post-data \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"call\",\"params\":[\"$1\",\"offload\",\"$2\",{}]}" \
		http://127.0.0.1/ubus
}

keeps_flows() {
	step "reloads keep established flows offloaded"
	handle=$(table_handle)
	/etc/init.d/firewall reload
	check "firewall reload: flows still [OFFLOAD]" wait_for 60 all_offloaded
	check "firewall reload: our flowtable was not replaced" test "$(table_handle)" = "$handle"
	check "firewall reload: fw4's ft gone again" wait_for 60 not fw4_has_ft
	/etc/init.d/network reload
	sleep 2
	check "network reload: flows still [OFFLOAD]" wait_for 60 all_offloaded
	check "network reload: our flowtable was not replaced" test "$(table_handle)" = "$handle"
	applies=$(ubus call offload status | js d.applies.total)
	ifup_wan "fw4-offload"
	check "ifup wan: our flowtable was not replaced" test "$(table_handle)" = "$handle"
	echo "ifup wan: the daemon's applies: $applies before, $(ubus call offload status | js d.applies.total) after"
	for c in tcp_vlan udp_vlan; do
		release_client $c
		wait_client $c || echo "  ($c ended with wan's address, as above)"
	done
	VLAN_TCP=5011
	VLAN_UDP=5012
	flow tcp_vlan tcp $SERVER_VLAN $VLAN_TCP
	flow udp_vlan udp $SERVER_VLAN $VLAN_UDP
	check "ifup wan: new flows over wan are [OFFLOAD]" wait_for 60 all_offloaded
}

# ifup_wan WHOSE: netifd's `ifup wan` (by its path: busybox sh runs its own ifup applet,
# Debian's busybox has one and OpenWrt's not, before it looks at PATH) while the flows
# over wan (VLAN_TCP, VLAN_UDP) and the PPPoE wan (PPP_TCP) are offloaded by WHOSE
# flowtable. netifd takes wan down and up: it deletes wan.7's IPv4 address (the device
# stays, wan6 holds it) and adds it again, and in between the kernel's masquerade deletes
# the conntrack entries NATed to it (nf_nat_masquerade's inetaddr notifier queues a
# worker that deletes the entries masqueraded through wan.7 whose reply goes to that
# address; a packet of such an entry that comes first, its way out no longer wan.7, has
# its entry deleted by NAT itself: nf_nat_inet_fn's check of a masqueraded entry's
# output device), offloaded or not; the PPPoE wan's entry stays. A packet of the client's in
# that gap makes a new entry, routed over the PPPoE wan (the default route left) and
# masqueraded to its address, which the server answers with a reset; after it, the next
# packet makes an entry masqueraded to wan's address again. So the TCP flow over wan is
# reset when it sends in the gap (the UDP one loses packets). The checks read it from the
# kernel: the function tracer on the notifier, its worker and conntrack's delete (one
# buffer, each call with its task and caller), conntrack's DESTROY events (which entries
# went), wan.7's addresses (ip monitor) and the daemon's offload.applied (sent when an
# apply changed something).
ifup_wan() {
	_log=/tmp/ifup-wan.events
	_trace=/tmp/ifup-wan.trace
	: >$_log
	/sbin/ip -ts monitor address dev wan.7 >>$_log 2>&1 &
	_mon=$!
	conntrack -E -e DESTROY >>$_log 2>&1 &
	_ct=$!
	ubus listen offload.applied >>$_log 2>&1 &
	_ubus=$!
	trace_start masq_inet_event iterate_cleanup_work nf_ct_delete
	sleep 1
	_up=$(iface_uptime wan)
	/sbin/ifup wan
	check "ifup wan ($1): netifd took wan down and up (uptime $_up s before)" \
		wait_for 60 iface_restarted wan "$_up"
	sleep 1
	trace_stop $_trace
	kill $_mon $_ct $_ubus
	wait $_mon $_ct $_ubus 2>/dev/null
	sed 's/^/  /' $_log $_trace
	check "ifup wan ($1): wan.7's address $WAN_ADDR was deleted and added again" \
		test "$(addr_changes $_log)" = "-+"
	check "ifup wan ($1): the masquerade's address notifier ran" grep -q " masq_inet_event <-" $_trace
	_n=$(masq_deleted <$_trace)
	_p=$(grep -c " nf_ct_delete <-nf_nat_inet_fn" $_trace)
	check "ifup wan ($1): the masquerade deleted conntrack entries ($_n by its worker, $_p by NAT on a packet whose way out changed)" \
		test $((_n + _p)) -ge 2
	check "ifup wan ($1): no other task deleted entries by a conntrack iteration or request" \
		test "$(grep -c " nf_ct_delete <-\(nf_ct_iterate_cleanup\|ctnetlink\)" $_trace)" = "$_n"
	for _f in "tcp $VLAN_TCP" "udp $VLAN_UDP"; do
		check "ifup wan ($1): the $_f entry masqueraded to $WAN_ADDR was destroyed" \
			grep -q "DESTROY\] ${_f% *} .* dport=${_f#* } .* dst=$WAN_ADDR " $_log
	done
	check "ifup wan ($1): the PPPoE wan's entry was not destroyed" \
		not grep -q "DESTROY\] tcp .* dport=$PPP_TCP " $_log
	check "ifup wan ($1): the flow over the PPPoE wan is still [OFFLOAD]" offloaded tcp $PPP_TCP
}
# addr_changes LOG: wan's address in LOG's ip monitor lines, in order: - deleted, + added
addr_changes() {
	sed -n "/^\[.*\] .*: wan.7 *inet $WAN_ADDR\//{s/.*\] Deleted .*/-/p;t;s/.*/+/p}" "$1" | tr -d '\n'
}
# masq_deleted: in the function trace on stdin, the entries conntrack's iteration deleted
# in the tasks that ran the masquerade's worker (iterate_cleanup_work)
masq_deleted() {
	awk '/ iterate_cleanup_work <-/ { w[$1] = 1 }
		/ nf_ct_delete <-nf_ct_iterate_cleanup/ && ($1 in w) { n++ }
		END { print n + 0 }'
}
# trace_start FUNCTION...: the kernel's function tracer on FUNCTION..., from an empty buffer
TRACE=/sys/kernel/tracing
trace_start() {
	[ -e $TRACE/trace ] || mount -t tracefs tracefs $TRACE
	echo 0 >$TRACE/tracing_on
	echo "$*" >$TRACE/set_ftrace_filter
	# an empty filter would trace every function
	[ "$(wc -l <$TRACE/set_ftrace_filter)" = $# ] || { echo "ftrace: not all of $* traceable"; return 1; }
	echo function >$TRACE/current_tracer
	: >$TRACE/trace
	echo 1 >$TRACE/tracing_on
}
# trace_stop FILE: the trace (without its header) to FILE; the tracer off
trace_stop() {
	echo 0 >$TRACE/tracing_on
	grep -v '^#' $TRACE/trace >"$1"
	echo nop >$TRACE/current_tracer
	: >$TRACE/set_ftrace_filter
}

respawn_and_burst() {
	step "procd respawns the daemon; a burst of device changes applies once"
	pid=$(daemon_pid)
	kill -9 "$pid"
	check "kill -9: procd respawns the daemon" wait_for 60 daemon_replaced "$pid"
	check "the respawned daemon is back on ubus" wait_for 60 on_ubus
	# four devices of zone lan that do not exist yet (zone devices, not netifd's: their
	# arrival reloads no firewall)
	for i in 1 2 3 4; do uci add_list firewall.@zone[0].device="burst$i"; done
	uci commit firewall
	fw4 -q reload
	sleep 2
	ubus listen offload.applied >/tmp/applied.log 2>&1 &
	listener=$!
	sleep 1
	# one `ip` process creates them back to back, as a `wifi reload` recreates interfaces
	for i in 1 2 3 4; do echo "link add burst$i type veth peer name burst${i}p netns spare"; done >/tmp/burst
	ip -batch /tmp/burst
	wait_for 60 in_flowtable burst1 burst2 burst3 burst4
	# longer than the daemon's longest burst (2 s), for an apply that should not come
	sleep 5
	kill "$listener"
	cat /tmp/applied.log
	check "the burst gave one apply" test "$(grep -c offload.applied /tmp/applied.log)" = 1
	check "... which added all four devices" in_flowtable burst1 burst2 burst3 burst4
	for i in 1 2 3 4; do ip link del "burst$i"; uci del_list firewall.@zone[0].device="burst$i"; done
	uci commit firewall
	fw4 -q reload
}

defects() {
	step "issue 11: fw4's lock"
	# The daemon stopped (SIGSTOP) answers nothing: each fw4 reload's request stays pending.
	# fw4 runs its include under its lock, so a reload may return only once the include
	# did, and the next reload only starts then: both returning while the first request
	# still waits shows that neither waited for it.
	pid=$(daemon_pid)
	kill -STOP "$pid"
	fw4 reload
	check "fw4 reload returns while its include's request is pending" test "$(pending_reloads)" -ge 1
	fw4 reload
	check "a second fw4 reload, started while a request waited, returns while its own waits" \
		test "$(pending_reloads)" -ge 1
	kill -CONT "$pid"
	check "the daemon answers the requests once it runs again" wait_for 60 not_pending
	check "... and applies (fw4's ft gone)" wait_for 60 not fw4_has_ft

	step "issue 11: a stopped service applies nothing"
	/etc/init.d/fw4-offload stop
	check "stop: the daemon is gone" wait_for 60 not on_ubus
	before=$(nft list table inet fw4_offload)
	fw4 reload
	sleep 2
	check "stopped: fw4 reload leaves fw4's own ft in place" fw4_has_ft
	check "stopped: our table is as it was" test "$(nft list table inet fw4_offload)" = "$before"
	check "stopped: no fw4-offload process ran" not pidof fw4-offload
	/etc/init.d/fw4-offload start
	check "start: the daemon applies again, fw4's ft gone" wait_for 60 not fw4_has_ft

	step "issue 11: a firewall config change applies once"
	ubus monitor >/tmp/monitor.log 2>&1 &
	monitor=$!
	sleep 1
	before=$(last_apply_time)
	uci set firewall.@defaults[0].synflood_protect=1
	uci commit firewall
	reload_config
	wait_for 120 applied_since "$before"
	# procd delays a reload trigger by 1 s; wait well past a second request
	sleep 10
	kill "$monitor"
	grep 'invoke.*"method":"reload"' /tmp/monitor.log
	check "one reload request reached the daemon (ubus monitor: $(reloads_in /tmp/monitor.log))" \
		test "$(reloads_in /tmp/monitor.log)" = 1

	step "issue 11: a failed apply fails reload"
	uci set firewall.fw4_offload_options=offload
	uci set firewall.fw4_offload_options.hw_exclude_shaped=maybe
	uci commit firewall
	rc=0
	/etc/init.d/fw4-offload reload || rc=$?
	check "reload with a config the helper refuses exits non-zero ($rc)" test "$rc" != 0
	check "... and the table stays loaded" has_table
	uci delete firewall.fw4_offload_options
	uci commit firewall
	rc=0
	/etc/init.d/fw4-offload reload || rc=$?
	check "reload with the config fixed exits 0" test "$rc" = 0
}

offload_off() {
	step "offloading off hands back to fw4's defaults"
	uci set firewall.@defaults[0].flow_offloading=0
	uci set firewall.@defaults[0].flow_offloading_hw=0
	uci commit firewall
	/etc/init.d/firewall restart
	check "table inet fw4_offload is gone" wait_for 60 not has_table
	check "fw4 renders no flowtable of its own" not fw4_has_ft
	nft list ruleset >/tmp/ruleset
	check "the loaded ruleset is fw4's alone (no flow offload anywhere)" not grep -q "flow add" /tmp/ruleset
	for c in tcp_vlan udp_vlan tcp_ppp; do
		release_client $c
		check "$c: every byte came back through it all" wait_client $c
	done
	stop_servers
	# back on for what follows
	uci set firewall.@defaults[0].flow_offloading=1
	uci set firewall.@defaults[0].flow_offloading_hw=1
	uci commit firewall
	/etc/init.d/firewall restart
	check "offloading on again: table loaded" wait_for 60 ours_loaded
}

# The add-on packages and the files each installs (their Makefiles' install recipes).
ADDONS="luci-app-fw4-offload prometheus-node-exporter-lua-fw4-offload"
ADDON_FILES="/www/luci-static/resources/view/fw4-offload/status.js
/www/luci-static/resources/fw4-offload/config.js
/usr/share/luci/menu.d/luci-app-fw4-offload.json
/usr/share/rpcd/acl.d/luci-app-fw4-offload.json
/usr/lib/lua/prometheus-collectors/fw4_offload.lua"
# root_files: every path of the root file system but the run-time ones, sorted
root_files() {
	find / -xdev \( -path /tmp -o -path /var -o -path /run -o -path /root \) -prune -o -print | sort
}
# luci_acl GRANTED: a fresh session of login "luci" (LuCI's ACL group of the app only)
# logged in, and rpcd's answer whether it may read offload status is GRANTED (true, false)
luci_acl() {
	_sid=$(ubus call session login '{"username":"luci","password":"luci-secret"}' | js d.ubus_rpc_session)
	[ -n "$_sid" ] && [ "$(access "$_sid" status)" = "$1" ]
}
# addons MANAGER INSTALL... -- REMOVE...: luci-app-fw4-offload and the Prometheus collector
# installed and removed with MANAGER's commands, beside the fw4-offload MANAGER installed
# (their dependency, checked for real; the others are the root's empty stand-ins)
addons() {
	_pm=$1
	shift
	_install=
	while [ "$1" != -- ]; do
		_install="$_install $1"
		shift
	done
	shift
	root_files >/tmp/files.before-addons
	# shellcheck disable=SC2086 # the command and its arguments
	check "$_pm: the add-ons install" $_install
	for f in $ADDON_FILES; do check "$_pm: $f installed" test -s "$f"; done
	check "$_pm: LuCI's menu entries parse (status page, firewall tab)" test "$(js "length(d)" \
		</usr/share/luci/menu.d/luci-app-fw4-offload.json)" = 2
	check "$_pm: rpcd, reloaded by the postinst, grants the app's ACL group" wait_for 30 luci_acl true
	check "$_pm: the add-ons are removed" "$@"
	check "$_pm: rpcd, reloaded by the postrm, no longer knows the ACL group" wait_for 30 luci_acl false
	root_files >/tmp/files.after-addons
	if cmp -s /tmp/files.before-addons /tmp/files.after-addons; then
		pass "$_pm: nothing of the add-ons is left (the root's file list as before)"
	else
		fail "$_pm: nothing of the add-ons is left (the root's file list as before)"
		diff /tmp/files.before-addons /tmp/files.after-addons
	fi
}

# upgrade MANAGER COMMAND...: COMMAND installs release 2; its binary must be the one running
upgrade() {
	_pm=$1
	shift
	_old=$(daemon_pid)
	if "$@"; then pass "$_pm: upgrade to release 2"; else fail "$_pm: upgrade to release 2"; fi
	check "$_pm: the daemon was restarted" wait_for 60 daemon_replaced "$_old"
	_pid=$(daemon_pid)
	check "$_pm: the running daemon's binary is release 2's" \
		test "$(md5sum <"/proc/$_pid/exe")" = "$(md5sum <$PKGS/2/fw4-offload)"
	check "$_pm: still one include" test "$(include_sections)" = 1
	check "$_pm: still enabled" test -L /etc/rc.d/S20fw4-offload
}

# removed MANAGER BEFORE: the state after removal, against the config before the install
removed() {
	check "$1: the include is gone" test "$(include_sections)" = 0
	if cmp -s "$2" /etc/config/firewall; then pass "$1: /etc/config/firewall is byte for byte what it was"; else
		fail "$1: /etc/config/firewall is byte for byte what it was"
		diff "$2" /etc/config/firewall
	fi
	check "$1: table inet fw4_offload is gone" not has_table
	check "$1: fw4's own offloading is back (its ft loaded)" fw4_has_ft
	check "$1: the daemon is gone" not on_ubus
}

apk_remove() {
	step "apk: removal after all that"
	if apk del --no-progress fw4-offload; then pass "apk del fw4-offload"; else fail "apk del fw4-offload"; fi
	check "apk: the include is gone" test "$(include_sections)" = 0
	check "apk: table inet fw4_offload is gone" not has_table
	check "apk: fw4's own offloading is back (its ft loaded)" fw4_has_ft
}

# The control: the same `ifup wan` with stock fw4's own offloading and flowtable (the
# package removed) ends wan's flows the same way: not a regression of the package's.
stock_ifup_wan() {
	step "control: ifup wan with stock fw4's offloading"
	VLAN_TCP=5021
	VLAN_UDP=5022
	PPP_TCP=5023
	flow tcp_vlan tcp $SERVER_VLAN $VLAN_TCP
	flow udp_vlan udp $SERVER_VLAN $VLAN_UDP
	flow tcp_ppp tcp $SERVER_PPP $PPP_TCP
	check "stock fw4: the flows over wan and the PPPoE wan are [OFFLOAD] through fw4's ft" \
		wait_for 60 all_offloaded
	ifup_wan "stock fw4"
	for c in tcp_vlan udp_vlan tcp_ppp; do
		release_client $c
		wait_client $c || echo "  ($c ended)"
	done
	stop_servers
}

apk_lifecycle() {
	step "apk (.apk, 25.12): install, upgrade, removal"
	cp /etc/config/firewall /tmp/firewall.before-apk
	if apk_add $PKGS/1/fw4-offload-*.apk; then pass "apk add"; else fail "apk add"; fi
	check "apk: uci-defaults added the include once" test "$(include_sections)" = 1
	check "apk: procd started the daemon" wait_for 60 on_ubus
	check "apk: the daemon applied (fw4's ft gone)" wait_for 60 ours_loaded
	upgrade apk apk_add $PKGS/2/fw4-offload-*.apk
	# shellcheck disable=SC2086 # the package names
	addons apk apk_add $PKGS/addons/*.apk -- apk del --no-progress $ADDONS
	if apk del --no-progress fw4-offload; then pass "apk del"; else fail "apk del"; fi
	removed apk /tmp/firewall.before-apk
}

opkg_lifecycle() {
	step "opkg (.ipk, 24.10): install, upgrade, removal"
	cp /etc/config/firewall /tmp/firewall.before-opkg
	if opkg install $PKGS/1/fw4-offload_*.ipk; then pass "opkg install"; else fail "opkg install"; fi
	check "opkg: uci-defaults added the include once" test "$(include_sections)" = 1
	check "opkg: procd started the daemon" wait_for 60 on_ubus
	check "opkg: the daemon applied (fw4's ft gone)" wait_for 60 ours_loaded
	upgrade opkg opkg install $PKGS/2/fw4-offload_*.ipk
	# shellcheck disable=SC2086 # the package names
	addons opkg opkg install $PKGS/addons/*.ipk -- opkg remove $ADDONS
	if opkg remove fw4-offload; then pass "opkg remove"; else fail "opkg remove"; fi
	removed opkg /tmp/firewall.before-opkg
}

restore() {
	step "sysupgrade-style config restore"
	apk_add $PKGS/1/fw4-offload-*.apk >/dev/null
	check "installed: one include" test "$(include_sections)" = 1
	# what `sysupgrade -b` saves (its list, `sysupgrade -l`), archived as it archives it
	# (tar -T, which the guest's busybox tar lacks: GNU tar by its path)
	sysupgrade -l >/tmp/backup.files
	/usr/bin/tar -czf /tmp/backup.tar.gz -C / -T /tmp/backup.files
	tar -tzf /tmp/backup.tar.gz >/tmp/backup.list
	check "the backup holds /etc/config/firewall" grep -qx etc/config/firewall /tmp/backup.list
	# first boot of the new image: its own files (the package's uci-defaults script among
	# them), the backup restored over them as preinit does, then the uci-defaults run
	mkdir -p /tmp/image
	apk extract --allow-untrusted --destination /tmp/image $PKGS/1/fw4-offload-*.apk
	cp /tmp/image/etc/uci-defaults/90-fw4-offload /etc/uci-defaults/
	tar -xzf /tmp/backup.tar.gz -C /
	# shellcheck source=files/etc/uci-defaults/90-fw4-offload
	(cd /etc/uci-defaults && . ./90-fw4-offload) && rm -f /etc/uci-defaults/90-fw4-offload
	check "restored and uci-defaults run again: still one include" test "$(include_sections)" = 1
}

boot
install_apk
offload_on
ubus_rpcd
keeps_flows
respawn_and_burst
defects
offload_off
apk_remove
stock_ifup_wan
apk_lifecycle
opkg_lifecycle
restore
dmesg >/tmp/dmesg
check "the kernel logged no warning" not grep -qE "WARNING:|BUG:|Oops" /tmp/dmesg
summary
