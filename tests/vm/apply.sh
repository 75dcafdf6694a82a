# tests/vm/apply.sh - `fw4-offload apply` on a real kernel with real traffic (inside the VM;
# run by tests/vm-apply). The router namespace starts with stock fw4's ruleset (its own
# flowtable `ft` and `flow offload @ft` rule); then:
#   - apply removes fw4's ft and rule in the same batch, leaves the rest of fw4 untouched,
#     and loads table inet fw4_offload as `print` shows it;
#   - TCP and UDP through the router are [OFFLOAD] in conntrack, the flowtable counts them;
#   - the offload rule's counter, as `check` reads it over netlink, is what nft lists and
#     what an observer chain counts on the slow path; in-place updates keep it;
#   - applying again changes nothing; adding or removing a device updates the flowtable
#     in place and the connections established before stay offloaded;
#   - hardware asked for where the kernel refuses it (veth): software with the reason;
#   - a failing apply (a device gone between plan and apply) leaves the ruleset as it was;
#   - without CAP_NET_ADMIN the kernel's EPERM comes back at once, nothing changes; the
#     batch tests (tests/nftables_batch.rs) pass on this kernel: a batch refused as a
#     whole and a stale generation (NFNL_BATCH_GENID) answered as such;
#   - the batch's answer never read (strace turns that receive into the timeout's EAGAIN):
#     apply reads the kernel back and reports that it holds the plan;
#   - offloading off removes the table.
ROUTER_LAN_DEV=eth0
ROUTER_WAN_DEV=eth1
# shellcheck source=vm/lib.sh
. /vm/lib.sh

N=20
INTERVAL=50
# The clients hold their connections until released, and keep them busy: an idle flow
# leaves the flowtable after 30 s, and under TCG the arm64 and mipsel guests take longer
# than that between opening the flows and the last look at them.
HOLD=600000
KEEPALIVE=5000
fw4o() { nsx "$ROUTER_NS" fw4-offload "$@"; }
router_nft() { nsx "$ROUTER_NS" nft "$@"; }
# has LINE TEXT: TEXT holds LINE as a substring of one of its lines
has() { printf '%s\n' "$2" | grep -qF -- "$1"; }
# has_re REGEX TEXT: the same with an extended regular expression
has_re() { printf '%s\n' "$2" | grep -qE -- "$1"; }
# EOPNOTSUPP as the helper's C library words it: glibc "Operation not supported", musl
# (OpenWrt's, and the cross builds') "Not supported"
NOT_SUPPORTED='(Operation not|Not) supported \(os error [0-9]+\)'
flowtable_is() { router_nft list flowtable inet fw4_offload ft | grep -qF "$1"; }
no_hw_flag() { ! router_nft list flowtable inet fw4_offload ft | grep -q 'flags offload'; }
gone() { ! router_nft list "$@" >/dev/null 2>&1; }

topo_up
echo "kernel $(uname -r)"

# Stock fw4, adapted to this kernel and these devices (see vm/tests/fw4-default.sh).
fw4_adapt /fw4.nft >/tmp/fw4.nft
out=$(nsx "$ROUTER_NS" nft -f /tmp/fw4.nft 2>&1)
check "stock fw4 ruleset with its own flowtable loads: $out" test -z "$out"
nsx "$ROUTER_NS" nft -s list table inet fw4 >/tmp/fw4.before

mkdir -p /tmp/cfg
write_config() { # HW DEVICES...: zone lan gets every device but the last, wan the last
	_hw=$1
	shift
	{
		printf "config defaults\n\toption flow_offloading '1'\n\toption flow_offloading_hw '%s'\n\n" "$_hw"
		printf "config zone\n\toption name 'lan'\n"
		_i=0
		for _d in "$@"; do _i=$((_i + 1)); [ $_i -lt $# ] && printf "\tlist network 'if%s'\n" "$(echo "$_d" | tr - _)"; done
		printf "\nconfig zone\n\toption name 'wan'\n"
		for _d in "$@"; do _last=$_d; done
		printf "\tlist network 'if%s'\n" "$_last"
	} >/tmp/cfg/firewall
	for _d in "$@"; do printf "config interface 'if%s'\n\toption device '%s'\n\n" "$(echo "$_d" | tr - _)" "$_d"; done >/tmp/cfg/network
}

write_config 0 eth0 eth1
out=$(fw4o --config /tmp/cfg apply 2>&1)
rc=$?
echo "$out"
check "apply succeeds" test $rc -eq 0
check "fw4's flowtable ft is gone" gone flowtable inet fw4 ft
nsx "$ROUTER_NS" nft -s list table inet fw4 >/tmp/fw4.after
# What changed in fw4's table: exactly its flowtable block and its offload rule.
# (busybox diff: unified format; removed lines keep their "-", added ones their "+")
diff -U0 /tmp/fw4.before /tmp/fw4.after | grep -E '^[-+][^-+]' | sed -E 's/^(.)[[:space:]]*/\1/' >/tmp/fw4.diff
cat /tmp/fw4.diff
untouched() {
	! grep -q '^+' /tmp/fw4.diff &&
		grep -qx -- '-meta l4proto { tcp, udp } flow add @ft' /tmp/fw4.diff &&
		grep -qx -- '-flowtable ft {' /tmp/fw4.diff &&
		! grep -vxE -- '-(meta l4proto \{ tcp, udp \} flow add @ft|flowtable ft \{|hook ingress priority filter;?|devices = \{ eth0, eth1 \};?|counter;?|\}|)' /tmp/fw4.diff | grep -q .
}
check "the rest of fw4's table is untouched" untouched

# The loaded table is the printed one, modulo nft's formatting.
normalize() { sed -e '/^#/d; /^table inet fw4_offload$/d; /^delete table/d' -e 's/"//g; s/priority 0;/priority filter;/' \
	-e 's/counter packets [0-9]* bytes [0-9]*/counter/' \
	-e 's/^[[:space:]]*//; s/;$//; /^$/d'; }
fw4o --config /tmp/cfg print | normalize >/tmp/printed
nsx "$ROUTER_NS" nft list table inet fw4_offload | normalize >/tmp/listed
check "nft list matches fw4-offload print" diff /tmp/printed /tmp/listed

# An observer after every forward chain counts the packets that took the slow path.
router_nft -f - <<'NFT'
table inet observe {
	chain forward {
		type filter hook forward priority filter + 10; policy accept;
		meta l4proto { tcp, udp } counter
	}
}
NFT
slow_path() { nft_counter "$ROUTER_NS" inet observe forward 'l4proto'; }
MAX_SLOW=4   # TCP handshake 3, UDP 2
# flow_up NAME PROTO PORT: a held connection through the router, offloaded
flow_up() { offloaded_flow "$1" "$2" $SERVER_IP "$3" slow_path $HOLD; }
# r-lan2, a lan device the configuration names later, is up before the flows start: a
# link going up flushes the routes an offloaded flow caches, and its next packet takes
# the slow path once (the kernel's doing, not the helper's).
ip link add r-lan2 netns "$ROUTER_NS" type veth peer name c-eth1 netns "$CLIENT_NS"
nsx "$ROUTER_NS" ip link set r-lan2 up
flow_up tcp1 tcp 5001
flow_up udp1 udp 5002

# The offload rule's counter: what `check` read over netlink, what nft lists, and the
# packets the observer saw on the slow path (both chains see the same packets).
listed_counter() {
	router_nft list chain inet fw4_offload forward |
		sed -nE 's/.*counter packets ([0-9]+) bytes ([0-9]+) .*/\1 packets, \2 bytes/p'
}
read_counter() { fw4o --config /tmp/cfg check | sed -n 's/^loaded: slow path (offload rule counter): //p'; }
counter_agrees() {
	_listed=$(listed_counter) _read=$(read_counter)
	echo "nft lists: $_listed; fw4-offload read: $_read; observer: $(slow_path) packets"
	[ -n "$_read" ] && [ "$_read" = "$_listed" ] && [ "${_read%% *}" = "$(slow_path)" ]
}
check "the rule counter read over netlink equals nft's and the observer's" counter_agrees
COUNTED=$(read_counter)
check "the rule counter saw the slow path only ($COUNTED)" test "${COUNTED%% *}" -le $((2 * MAX_SLOW)) -a "${COUNTED%% *}" -gt 0

out=$(fw4o --config /tmp/cfg apply 2>&1)
echo "$out"
check "applying the same plan again changes nothing" has 'applied: nothing' "$out"
check "tcp1 still [OFFLOAD] after the no-op apply" ct_offloaded tcp 5001
check "check reads the kernel back: in sync" has 'in sync: the kernel holds this plan' "$(fw4o --config /tmp/cfg check)"
check "check shows the loaded flowtable" has 'loaded: flowtable fw4_offload ft on eth0, eth1' "$(fw4o --config /tmp/cfg check)"

# A new lan device: the flowtable gains a hook in place; flows on the others stay.
write_config 0 eth0 r-lan2 eth1
out=$(fw4o --config /tmp/cfg apply 2>&1)
echo "$out"
in_place() { has 'add devices r-lan2' "$1" && ! has 'delete table' "$1"; }
check "a new device is added to the flowtable in place" in_place "$out"
check "tcp1 established before stays [OFFLOAD]" ct_offloaded tcp 5001
check "udp1 established before stays [OFFLOAD]" ct_offloaded udp 5002
check "flowtable lists all three devices" flowtable_is 'devices = { eth0, eth1, r-lan2 }'
check "the in-place update kept the rule counter" test "$(read_counter)" = "$COUNTED"
# And gone again: its hook is removed in place, the flows on eth0/eth1 stay.
write_config 0 eth0 eth1
out=$(fw4o --config /tmp/cfg apply 2>&1)
echo "$out"
removed() { has 'remove devices r-lan2' "$1" && ! has 'delete table' "$1"; }
check "a removed device leaves the flowtable in place" removed "$out"
check "tcp1 stays [OFFLOAD] after the removal" ct_offloaded tcp 5001
# (a flow flushed and offloaded again by a keepalive would have counted on the slow path)
after=$(read_counter)
check "the in-place removal kept the rule counter ($after)" test "$after" = "$COUNTED"
check "flowtable lists eth0 and eth1 again" flowtable_is 'devices = { eth0, eth1 }'
release_client tcp1
release_client udp1
wait_client tcp1 >/dev/null
wait_client udp1 >/dev/null

# Hardware asked for on veth, as it is: ethtool says it cannot, so the plan asks for
# software and says why, and the kernel is never asked for `flags offload`.
write_config 1 eth0 eth1
out=$(fw4o --config /tmp/cfg apply 2>&1)
echo "$out"
check "hardware on veth: the plan says why it is software" \
	has 'eth0  software, unknown driver cannot offload (hw-tc-offload off [fixed])' "$out"
check "hardware on veth: software flowtable, no flags offload" no_hw_flag

# Hardware asked for where the kernel cannot: a snapshot whose devices claim
# hw-tc-offload (as a driver with tc offload but no flowtable offload would).
write_config 1 eth0 eth1
fw4o --config /tmp/cfg snapshot /tmp/snap >/dev/null
for d in eth0 eth1; do sed -i 's/^hw-tc-offload: .*/hw-tc-offload: on/' /tmp/snap/ethtool/$d; done
out=$(fw4o --root /tmp/snap apply 2>&1)
rc=$?
echo "$out"
check "hardware refused: apply still succeeds" test $rc -eq 0
check "the fallback names the kernel's error" \
	has_re "fallback: hardware offload refused: flowtable fw4_offload ft \\(devices eth0, eth1\\): $NOT_SUPPORTED" "$out"
check "eth0 says the kernel refused it" has_re "eth0  software, the kernel refused hardware offload: $NOT_SUPPORTED" "$out"
check "eth1 says the kernel refused it" has_re "eth1  software, the kernel refused hardware offload: $NOT_SUPPORTED" "$out"
check "software flowtable on both devices" flowtable_is 'devices = { eth0, eth1 }'
check "no flags offload after the fallback" no_hw_flag
flow_up tcp2 tcp 5003
release_client tcp2
wait_client tcp2 >/dev/null

# A device that vanished between plan and apply: refused, and nothing changes.
cp -r /tmp/snap /tmp/ghost
mkdir -p /tmp/ghost/sys/class/net/ghost0
echo 99 >/tmp/ghost/sys/class/net/ghost0/ifindex
printf "config interface 'ghost'\n\toption device 'ghost0'\n" >>/tmp/ghost/etc/config/network
sed -i "s/list network 'ifeth1'/list network 'ifeth1'\n\tlist network 'ghost'/" /tmp/ghost/etc/config/firewall
sed -i "s/flow_offloading_hw '1'/flow_offloading_hw '0'/" /tmp/ghost/etc/config/firewall
# refused COMMAND...: runs it, with the ruleset before and after it in /tmp/ruleset.*
# (-s: counters keep counting whatever happens to the ruleset); sets out and rc.
refused() {
	router_nft -s list ruleset >/tmp/ruleset.before
	out=$("$@" 2>&1)
	rc=$?
	echo "$out"
	router_nft -s list ruleset >/tmp/ruleset.after
}
refused fw4o --root /tmp/ghost apply
check "a failing apply exits 4" test $rc -eq 4
check "a failing apply names the object" has 'the kernel refused flowtable fw4_offload ft: add devices ghost0' "$out"
check "a failing apply leaves the ruleset byte for byte" cmp /tmp/ruleset.before /tmp/ruleset.after

# The next checks need setpriv, strace and the batch tests, which tests/vm-apply brings
# from this machine into the x86_64 guest only.
if [ -x /usr/bin/nftables-batch ]; then
	# Without CAP_NET_ADMIN: the kernel says EPERM to the first request, at once.
	refused nsx "$ROUTER_NS" setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
		fw4-offload --config /tmp/cfg apply
	check "an apply without CAP_NET_ADMIN exits 3" test $rc -eq 3
	check "it gives the kernel's errno" has 'Operation not permitted' "$out"
	check "and leaves the ruleset byte for byte" cmp /tmp/ruleset.before /tmp/ruleset.after
	out=$(nsx "$ROUTER_NS" nftables-batch --test-threads=1 2>&1)
	rc=$?
	echo "$out" | grep -E '^test |test result' || echo "$out" | tail -n 5
	check "batches on this kernel: refused as a whole, stale generation (nftables_batch)" test $rc -eq 0

	# The answer to the batch lost: strace makes the first receive after the batch fail
	# with EAGAIN, as the socket's receive timeout would. Which receive that is comes from
	# a dry run from the same state (same requests, then the batch, the last send).
	write_config 0 eth0 r-lan2 eth1
	nsx "$ROUTER_NS" strace -f -o /tmp/dry.trace -e trace=sendto,recvfrom \
		fw4-offload --config /tmp/cfg apply --dry-run >/dev/null 2>&1
	nth=$(awk '/sendto\(/ { before = n } /recvfrom\(/ { n++ } END { print before + 1 }' /tmp/dry.trace)
	out=$(nsx "$ROUTER_NS" strace -f -o /dev/null -e trace=recvfrom \
		-e inject=recvfrom:error=EAGAIN:when="$nth" fw4-offload --config /tmp/cfg apply 2>&1)
	rc=$?
	echo "$out"
	check "an unanswered batch that took effect: apply succeeds" test $rc -eq 0
	check "it says the answer was missing and what reading back found" \
		has 'unanswered: no answer from the kernel (Resource temporarily unavailable (os error 11)); read back, it holds the plan' "$out"
	check "and the kernel holds the plan" flowtable_is 'devices = { eth0, eth1, r-lan2 }'
else
	echo "not run in the $(uname -m) guest: apply without CAP_NET_ADMIN, the batch tests and the lost answer (setpriv, strace and the tests are x86_64 builds)"
fi

sed -i "s/flow_offloading '1'/flow_offloading '0'/" /tmp/cfg/firewall
out=$(fw4o --config /tmp/cfg apply 2>&1)
echo "$out"
check "offloading off removes the table" gone table inet fw4_offload

topo_down
summary
