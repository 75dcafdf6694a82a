# tests/vm/soak.sh - `fw4-offload daemon` under load and faults at once (inside the VM;
# run by tests/vm-soak). usage: soak.sh OW_STAGE CALLS CYCLES RELOADS RESTARTS CT_ENTRIES
#
# The router namespace holds stock fw4's ruleset and a conntrack table of CT_ENTRIES UDP
# flows (sent from the client namespace, kept by a long UDP timeout). OpenWrt's ubusd
# (from OW_STAGE, tests/openwrt/build) serves the daemon; there is no logd. Then, all at
# once until each is done:
#   - CALLS ubus calls (status, flows, devices in turn) from 4 clients, each call tried
#     until it is answered (tests/vm/soak-client.uc), each answer checked;
#   - CYCLES create/delete cycles of r-guest, each followed into and out of the flowtable;
#   - RELOADS reloads of fw4's ruleset (`nft -f`, then `ubus call offload reload`, as
#     fw4's include does);
#   - ubusd killed and started again RESTARTS times.
# Reported and checked: every answer valid, the status latency (p50, p99), how soon each
# device change reached the flowtable, the daemon's descriptors and RSS at start, middle
# and end (each sample shown as it is taken), applies and errors, and at the end the
# kernel holding the plan.
# shellcheck disable=SC2034 # read by /vm/lib.sh
ROUTER_LAN_DEV=eth0 ROUTER_WAN_DEV=eth1
# shellcheck source=/dev/null
. /vm/lib.sh

OW=$1 CALLS=$2 CYCLES=$3 RELOADS=$4 RESTARTS=$5 CT_ENTRIES=$6
CLIENTS=4
UBUS_SOCK=/tmp/ubus.sock
DEBOUNCE=100
fw4_reload() { nsx "$ROUTER_NS" sh -c 'nft -f /dev/stdin' </tmp/fw4.nft; }
ubus_call() { "$OW/usr/bin/ubus" -s "$UBUS_SOCK" -t 30 call offload "$@"; }
ubusd_start() {
	"$OW/usr/sbin/ubusd" -s "$UBUS_SOCK" &
	UBUSD=$!
}
registered() { "$OW/usr/bin/ubus" -s "$UBUS_SOCK" list offload >/dev/null 2>&1; }
fds() { set -- /proc/"$DAEMON"/fd/*; echo $#; }
rss() { awk '/^VmRSS/ { print $2 }' /proc/"$DAEMON"/status; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# percentiles FILE: p50, p99 and the largest of the microseconds in FILE, in ms.
percentiles() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END { printf "p50 %d ms, p99 %d ms, max %d ms over %d", v[int((NR * 50 + 99) / 100)] / 1000,
			v[int((NR * 99 + 99) / 100)] / 1000, v[NR] / 1000, NR }'
}
fw4_offload_gone() {
	! nsx "$ROUTER_NS" nft list flowtable inet fw4 ft >/dev/null 2>&1 &&
		! nsx "$ROUTER_NS" nft list chain inet fw4 forward | grep -q 'flow add @ft'
}

echo "kernel $(uname -r); $CALLS calls from $CLIENTS clients, $CYCLES device cycles, $RELOADS fw4 reloads, $RESTARTS ubusd restarts, $CT_ENTRIES conntrack entries"
# The table's limit and hash size are the initial namespace's, for all.
sysctl -qw net.netfilter.nf_conntrack_max=$((CT_ENTRIES + 65536))
echo $((CT_ENTRIES / 4 + 1024)) >/sys/module/nf_conntrack/parameters/hashsize
topo_up
sysctl_ns "$ROUTER_NS" net.netfilter.nf_conntrack_udp_timeout 7200
fw4_adapt /fw4.nft >/tmp/fw4.nft
out=$(fw4_reload 2>&1)
check "stock fw4 ruleset loads: $out" test -z "$out"

nsx "$CLIENT_NS" traffic flood udp -n "$CT_ENTRIES" "$SERVER_IP" 20000
ct_count=$(nsx "$ROUTER_NS" cat /proc/sys/net/netfilter/nf_conntrack_count)
echo "conntrack entries in the router namespace: $ct_count at $(uptime_s) s"
check "conntrack holds the $CT_ENTRIES flows ($ct_count)" test "$ct_count" -ge "$CT_ENTRIES"

ubusd_start
wait_for 10 test -S "$UBUS_SOCK"
daemon_start "$DEBOUNCE"
check "the daemon applies at start" wait_for 30 fw4_offload_gone
check "and registers on ubus" wait_for 30 registered
fds0=$(fds) rss0=$(rss)
# The reference: status alone, one client, nothing else running.
"$OW/usr/bin/ucode" -L "$OW/usr/lib/ucode/*.so" /vm/soak-client.uc "$UBUS_SOCK" 60 \
	"$CT_ENTRIES" /tmp/latency.idle >/dev/null
echo "status latency alone: $(percentiles /tmp/latency.idle) calls"

# ------------------------------------------------------------------ all at once
start=$(uptime_s)
i=0
while [ $i -lt $CLIENTS ]; do
	"$OW/usr/bin/ucode" -L "$OW/usr/lib/ucode/*.so" /vm/soak-client.uc "$UBUS_SOCK" $((CALLS / CLIENTS)) \
		"$CT_ENTRIES" /tmp/latency.$i >/tmp/client.$i 2>&1 &
	eval "CLIENT_$i=\$!"
	i=$((i + 1))
done
# followed CHANGE CONDITION...: CHANGE, then wait for CONDITION; the microseconds it
# took go to /tmp/hotplug.
followed() {
	_t=$(uptime_s)
	$1
	shift
	wait_for 30 "$@" || return 1
	awk -v s="$_t" -v e="$(uptime_s)" 'BEGIN { printf "%d\n", (e - s) * 1000000 }' >>/tmp/hotplug
}
: >/tmp/hotplug
(
	missed=0 i=0
	while [ $i -lt "$CYCLES" ]; do
		followed guest_add has_device r-guest || missed=$((missed + 1))
		followed guest_del lacks_device r-guest || missed=$((missed + 1))
		i=$((i + 1))
	done
	echo "$missed"
) >/tmp/cycles.out 2>&1 &
CYCLER=$!
(
	i=0
	while [ $i -lt "$RELOADS" ]; do
		fw4_reload || echo "fw4 reload $i failed"
		# fw4's include asks the daemon; while ubusd restarts, that is lost, as on a router.
		ubus_call reload >/dev/null 2>&1
		sleep 1
		i=$((i + 1))
	done
) >/tmp/reloads.log 2>&1 &
RELOADER=$!
restarts=0 samples=0
# The main loop samples the daemon every 5 s, and restarts ubusd every other sample.
: >/tmp/samples
echo "samples (uptime s, descriptors, RSS KiB, device changes followed):"
while kill -0 "$CLIENT_0" 2>/dev/null || kill -0 "$CYCLER" 2>/dev/null ||
	kill -0 "$RELOADER" 2>/dev/null || [ $restarts -lt "$RESTARTS" ]; do
	sleep 5
	echo "$(uptime_s) $(fds) $(rss)" >>/tmp/samples
	echo "  $(tail -n 1 /tmp/samples) $(wc -l </tmp/hotplug)"
	samples=$((samples + 1))
	if [ $((samples % 2)) -eq 0 ] && [ $restarts -lt "$RESTARTS" ]; then
		kill "$UBUSD"
		wait "$UBUSD" 2>/dev/null
		ubusd_start
		restarts=$((restarts + 1))
	fi
done
i=0
while [ $i -lt $CLIENTS ]; do
	eval "wait \$CLIENT_$i"
	i=$((i + 1))
done
wait $CYCLER $RELOADER
end=$(uptime_s)
echo "all done in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%d", e - s }') s: $restarts ubusd restarts"

# ------------------------------------------------------------------ figures
cat /tmp/client.[0-9]
sum() { awk -F'[= ]' -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) n += $(i + 1) } END { print n + 0 }' /tmp/client.[0-9]; }
answers=$(sum answers) valid=$(sum valid) retries=$(sum retries) unanswered=$(sum unanswered)
echo "answers: $answers of $CALLS calls, $valid valid; $retries attempts failed while ubusd or the daemon's registration was away (tried again)"
check "every call was answered ($unanswered unanswered)" test "$answers" -eq $((CALLS / CLIENTS * CLIENTS))
check "every answer is valid ($valid of $answers)" test "$valid" -eq "$answers"
cat /tmp/latency.[0-9] >/tmp/latency
echo "status latency under load: $(percentiles /tmp/latency) calls"
echo "device changes in the flowtable after: $(percentiles /tmp/hotplug) changes"

missed=$(cat /tmp/cycles.out)
check "every one of $CYCLES creates and deletes was followed ($missed missed)" test "$missed" = 0
check "every fw4 reload loaded" test ! -s /tmp/reloads.log

# Two restarts while the daemon is busy with one call need one registration, not two.
# Measured once registered again: while ubusd is away the daemon holds one socket less.
check "the daemon registered again after the last ubusd restart" wait_for 30 registered
fds1=$(fds) rss1=$(rss)
middle=$(sed -n "$(((samples + 1) / 2))p" /tmp/samples)
echo "descriptors: start $fds0, middle $(echo "$middle" | cut -d' ' -f2), end $fds1"
echo "RSS: start $rss0 KiB, middle $(echo "$middle" | cut -d' ' -f3) KiB, end $rss1 KiB"
check "no descriptor leaked ($fds0 -> $fds1)" test "$fds0" -eq "$fds1"
# The second half must not grow: what the first half reached is the working set.
check "memory flat from the middle to the end ($rss0 -> $(echo "$middle" | cut -d' ' -f3) -> $rss1 KiB, bound +256)" \
	test "$rss1" -le $(($(echo "$middle" | cut -d' ' -f3) + 256))

registrations=$(grep -c 'registered (id' /tmp/daemon.log)
# The daemon's own count (status): every apply, whether it changed anything or not.
counts=$("$OW/usr/bin/ucode" -L "$OW/usr/lib/ucode/*.so" -e "let a = require('ubus').connect('$UBUS_SOCK').call('offload', 'status', {}).applies;
	printf('%d %d', a.total, a.errors);")
applies=${counts% *} errors=${counts#* }
changed=$(grep -c ': applied' /tmp/daemon.log)
logged=$(grep -c 'apply failed' /tmp/daemon.log)
echo "applies: $applies ($changed changed the ruleset), errors: $errors; $registrations ubus registrations for $restarts restarts"
grep 'apply failed' /tmp/daemon.log | head -n 3
check "no apply failed ($errors counted, $logged logged)" test "$errors" = 0 -a "$logged" = 0

# The last fw4 reload's request may have met ubusd restarting: fw4 restarts, as its
# include would on the next reload, ask again.
ubus_call reload >/dev/null
check "at the end fw4's ft and rule are gone" wait_for 30 fw4_offload_gone
check "the flowtable holds the plan's devices" has_device 'eth0, eth1 }'
in_sync() { nsx "$ROUTER_NS" fw4-offload --config /tmp/cfg check | grep -q 'in sync: the kernel holds this plan'; }
check "check: the kernel holds the plan" in_sync

kill -TERM "$DAEMON"
wait "$DAEMON"
check "SIGTERM stops the daemon cleanly" test $? -eq 0
echo "--- daemon log (last lines)"
tail -n 8 /tmp/daemon.log
kill "$UBUSD"
topo_down
summary
