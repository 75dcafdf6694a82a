# tests/vm/faults.sh - `fw4-offload daemon` under faults, on a real kernel (inside the VM;
# run by tests/vm-daemon). The router namespace holds stock fw4's ruleset (its `ft` and
# `flow offload @ft` rule), zone lan has a network on r-guest, which comes and goes.
#   - fw4 reloads while the daemon applies: CHANGES reloads of fw4's ruleset (`nft -f`
#     from stdin, as fw4 loads it) back to back while CHANGES device changes are made,
#     so reloads land between the daemon's read and its commit. No change may end in an
#     error (a stale rule handle used to give ENOENT), each is followed, and at the end
#     the kernel holds the plan, with fw4's own ft and rule removed;
#   - signals while an apply waits for the kernel: strace turns the daemon's receives
#     into EINTR and delivers SIGHUP (every other receive) or SIGTERM with each, as a
#     signal arriving during a blocking recv does. No apply fails for a signal; after
#     SIGTERM the daemon finishes the apply it is in, then stops.
# shellcheck disable=SC2034 # read by /vm/lib.sh
ROUTER_LAN_DEV=eth0 ROUTER_WAN_DEV=eth1
# shellcheck source=/dev/null
. /vm/lib.sh

CHANGES=${1:-100} # device changes, and as many fw4 reloads
DEBOUNCE=100
router_nft() { nsx "$ROUTER_NS" nft "$@"; }
fw4_reload() { nsx "$ROUTER_NS" sh -c 'nft -f /dev/stdin' </tmp/fw4.nft; }
fw4_offload_gone() {
	! router_nft list flowtable inet fw4 ft >/dev/null 2>&1 &&
		! router_nft list chain inet fw4 forward | grep -q 'flow add @ft'
}
failures() { grep -c 'apply failed' /tmp/daemon.log; }

topo_up
echo "kernel $(uname -r)"
fw4_adapt /fw4.nft >/tmp/fw4.nft
out=$(fw4_reload 2>&1)
check "stock fw4 ruleset loads: $out" test -z "$out"

daemon_start "$DEBOUNCE"
check "the daemon applies at start, removing fw4's ft and rule" wait_for 10 fw4_offload_gone

# -------------------------------------------------------------- fw4 reloading meanwhile
# The reloads run back to back while the changes are made as fast as they are followed:
# neither waits for the other, so reloads land anywhere in the daemon's applies.
(
	i=0
	while [ $i -lt "$CHANGES" ]; do
		fw4_reload || echo "fw4 reload $i failed"
		i=$((i + 1))
	done
) >/tmp/reloads.log 2>&1 &
RELOADS=$!
missed=0 i=0
while [ $i -lt "$CHANGES" ]; do
	if [ $((i % 2)) -eq 0 ]; then
		guest_add
		wait_for 10 has_device r-guest || missed=$((missed + 1))
	else
		guest_del
		wait_for 10 lacks_device r-guest || missed=$((missed + 1))
	fi
	i=$((i + 1))
	[ $((i % 20)) -eq 0 ] && echo "$i changes at $(cut -d' ' -f1 /proc/uptime) s"
done
wait $RELOADS
echo "$CHANGES fw4 reloads done at $(cut -d' ' -f1 /proc/uptime) s"
check "every fw4 reload loaded" test ! -s /tmp/reloads.log
applies=$(grep -c 'hotplug: .*applied' /tmp/daemon.log)
stale=$(grep -c 'ERESTART' /tmp/daemon.log)
echo "$CHANGES device changes with as many fw4 reloads: $applies applies, $stale batches refused as stale and built again, $(failures) errors"
grep 'apply failed' /tmp/daemon.log | head -n 3
check "every change was followed ($missed missed)" test $missed -eq 0
check "no apply failed while fw4 reloaded" test "$(failures)" -eq 0
# The last fw4 reload put its ft and rule back; fw4's include makes the daemon apply.
kill -HUP "$DAEMON"
check "after fw4's last reload, the daemon's apply removes fw4's ft and rule" wait_for 10 fw4_offload_gone
check "the flowtable holds the plan's devices" wait_for 5 has_device 'eth0, eth1 }'
in_sync() { nsx "$ROUTER_NS" fw4-offload --config /tmp/cfg check | grep -q 'in sync: the kernel holds this plan'; }
check "check: the kernel holds the plan" in_sync

# ---------------------------------------------------------- signals during an apply
# attach PID SIGNAL WHEN: strace injecting EINTR plus SIGNAL into the receives WHEN says
attach() {
	strace -p "$1" -o /tmp/strace.out -e trace=recvfrom \
		-e inject=recvfrom:error=EINTR:signal="$2":when="$3" 2>/tmp/strace.err &
	STRACE=$!
	wait_for 10 grep -q attached /tmp/strace.err
}
detach() {
	kill "$STRACE" 2>/dev/null
	wait "$STRACE" 2>/dev/null
}
injected() { grep -c 'INJECTED' /tmp/strace.out; }

# Each SIGHUP asks for an apply, whose receives bring more SIGHUPs: applies run one after
# another, interrupted, as long as strace stays, while r-guest comes and goes.
attach "$DAEMON" SIGHUP 2+2
kill -HUP "$DAEMON"
guest_add
check "with SIGHUPs interrupting every other receive, r-guest joins" wait_for 20 has_device r-guest
guest_del
check "and leaves" wait_for 20 lacks_device r-guest
detach
echo "receives interrupted by a SIGHUP: $(injected)"
check "receives were interrupted ($(injected))" test "$(injected)" -ge 10
# Applies run back to back here, so one may plan with r-guest just before it is deleted:
# the kernel refuses that one (ENOENT), truthfully, and the next applies the deletion.
# What must never fail an apply is the signal.
grep 'apply failed' /tmp/daemon.log
interrupted() { grep 'apply failed' /tmp/daemon.log | grep -c -e 'Interrupted' -e 'no answer'; }
check "no apply failed for a signal" test "$(interrupted)" -eq 0
failed_before=$(failures)

# SIGTERM with every other receive of an apply that has something to do: a device the
# daemon has seen come (and had nothing to do for) is added to the config, then SIGHUP.
ip link add r-extra netns "$ROUTER_NS" type veth peer name r-extra-p netns "$ROUTER_NS"
sleep 1 # the hotplug apply for r-extra is over
printf "\nconfig interface 'extra'\n\toption device 'r-extra'\n" >>/tmp/cfg/network
sed -i "s/list network 'guest'/list network 'guest'\n\tlist network 'extra'/" /tmp/cfg/firewall
attach "$DAEMON" SIGTERM 1+2
kill -HUP "$DAEMON"
wait "$DAEMON"
rc=$?
detach
echo "receives interrupted by a SIGTERM: $(injected)"
check "SIGTERM during an apply: the daemon exits cleanly" test $rc -eq 0
check "the apply it was in completed" grep -q 'SIGHUP: applied: .*add devices r-extra' /tmp/daemon.log
check "the kernel holds it" has_device r-extra
check "then it stopped" grep -q 'info: stopped' /tmp/daemon.log
check "no apply failed" test "$(failures)" -eq "$failed_before"
echo "--- daemon log (last lines)"
tail -n 8 /tmp/daemon.log

topo_down
summary
