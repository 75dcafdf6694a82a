# bench/vm.sh - the kernel-side benchmarks, in one VM boot (run by bench/vm; bench/run
# reads the `BENCH` lines). Each is measured against the tool a user would run instead,
# on the same boot, with hyperfine (mean of its runs):
#   apply    `fw4-offload apply` against `nft -f` of the ruleset it prints, installing
#            the table from nothing, as flowtable devices grow 1 -> 16 -> 255 (the most
#            one flowtable takes: the kernel's NFT_NETDEVICE_MAX counts to 256 exclusive);
#   hotplug  the daemon following a new device (link event to the kernel holding the
#            hook, from the kernel's own notifications: bench/hookwatch.c), alone and in
#            a burst of 8, against `nft -f` adding the same device;
#   status   `fw4-offload status` (ctnetlink, and /proc with --root /) against
#            `conntrack -L` counting the same classes, as the table grows 1k -> 64k ->
#            256k real entries, half of them offloaded (bench/ctfill.c), with the peak RSS
#            of each; the two readers' counts must agree with conntrack's;
#   idle     the daemon's RSS at rest, after it applied a two-device zone (run alone
#            in the arm64 guest with the musl router build).
# All of it runs in the router namespace of vm/lib.sh's topology; hyperfine, hookwatch,
# ctfill, GNU time (as gnutime) and fw4-offload come in with vm/run --file.
# shellcheck shell=sh disable=SC2034 # the device names are for vm/lib.sh
ROUTER_LAN_DEV=eth0
ROUTER_WAN_DEV=eth1
# shellcheck source=vm/lib.sh
. /vm/lib.sh

RUNS=${RUNS:-10}
# Arguments: which of the benchmarks run (default: all of them)
PARTS=${*:-apply hotplug status idle}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
rx() { nsx "$ROUTER_NS" "$@"; }
# mean_ms RUNS HYPERFINE-ARGS...: the mean wall time of one command in ms, run without a
# shell (with `sh` when HF_SHELL=sh, for a pipeline: hyperfine subtracts the shell's own),
# after one warm-up run (none with WARMUP=0)
mean_ms() {
	_runs=$1
	shift
	_shell=-N
	[ -n "${HF_SHELL:-}" ] && _shell=--shell=$HF_SHELL
	rx hyperfine "$_shell" --style none --warmup "${WARMUP:-1}" --runs "$_runs" \
		--export-json /tmp/h.json "$@" \
		>/dev/null 2>/tmp/h.err || { cat /tmp/h.err >&2; echo -1; return; }
	sed -n 's/.*"mean": *\([0-9.e+-]*\).*/\1/p' /tmp/h.json | head -n 1 | awk '{ printf "%.2f\n", $1 * 1000 }'
}

# zone_config DIR DEVICE...: offloading on, one zone whose networks are the devices
zone_config() {
	_dir=$1
	shift
	mkdir -p "$_dir"
	printf "config defaults\n\toption flow_offloading '1'\n\nconfig zone\n\toption name 'lan'\n" >"$_dir/firewall"
	: >"$_dir/network"
	for _dev in "$@"; do
		printf "\tlist network 'n_%s'\n" "$_dev" >>"$_dir/firewall"
		printf "config interface 'n_%s'\n\toption device '%s'\n\n" "$_dev" "$_dev" >>"$_dir/network"
	done
}

topo_up
echo "kernel $(uname -r)"
mkdir -p /tmp/off
printf "config defaults\n\toption flow_offloading '0'\n" >/tmp/off/firewall
: >/tmp/off/network
fw4-offload --config /tmp/off print >/tmp/off.nft

# ---------------------------------------------------------------- apply scaling
part apply && for n in 1 16 255; do
	devices=""
	i=0
	while [ $i -lt $n ]; do
		devices="$devices d$i"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086 # one word per device
	{
		for d in $devices; do echo "link add $d type dummy"; done >/tmp/links
		rx /sbin/ip -batch /tmp/links
		zone_config /tmp/on$n $devices
	}
	rx fw4-offload --config /tmp/on$n print >/tmp/on$n.nft
	ours=$(mean_ms "$RUNS" --prepare "fw4-offload --config /tmp/off apply" "fw4-offload --config /tmp/on$n apply")
	nft=$(mean_ms "$RUNS" --prepare "nft -f /tmp/off.nft" "nft -f /tmp/on$n.nft")
	echo "BENCH apply devices=$n ours_ms=$ours nft_ms=$nft"
	rx nft -f /tmp/off.nft
	sed 's/^link add \([^ ]*\).*/link del \1/' /tmp/links >/tmp/unlinks
	rx /sbin/ip -batch /tmp/unlinks
done

# ---------------------------------------------------------------- hotplug
# Zone lan: eth0, eth1 and devices that do not exist yet: g (one device) and b0..b7 (a
# burst); the daemon runs with its default quiet time (500 ms).
burst="b0 b1 b2 b3 b4 b5 b6 b7"
# shellcheck disable=SC2086
zone_config /tmp/hot eth0 eth1 g $burst
if part hotplug; then
	/sbin/ip netns exec "$ROUTER_NS" fw4-offload --config /tmp/hot -s /nonexistent/ubus.sock \
		--syslog /nonexistent/log daemon 2>/tmp/daemon.log &
	DAEMON=$!
	wait_for 10 sh -c "/sbin/ip netns exec $ROUTER_NS nft list flowtable inet fw4_offload ft 2>/dev/null | grep -q eth1"
	# hook DEVICE... -- COMMAND: hookwatch's line
	hook() { rx hookwatch "$@" 2>&1; }
	# field NAME LINE
	field() { echo "$2" | sed -n "s/.*$1=\([-0-9.]*\).*/\1/p"; }
	# median of the numbers on stdin
	median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

	: >/tmp/single
	i=0
	while [ $i -lt 5 ]; do
		line=$(hook g -- /sbin/ip link add g type dummy)
		echo "daemon, one device: $line"
		field link_to_hook_ms "$line" >>/tmp/single
		sleep 1 # a quiet time: the next device opens a burst of its own
		rx /sbin/ip link del g
		sleep 1
		i=$((i + 1))
	done
	single=$(median </tmp/single)

	for d in $burst; do echo "link add $d type dummy"; done >/tmp/burst
	applies_before=$(grep -c 'hotplug: .*applied' /tmp/daemon.log)
	# shellcheck disable=SC2086
	line=$(hook -l 1500 $burst -- /sbin/ip -batch /tmp/burst)
	echo "daemon, burst of 8: $line"
	sleep 1
	applies=$(($(grep -c 'hotplug: .*applied' /tmp/daemon.log) - applies_before))
	burst_first=$(field link_to_first_hook_ms "$line")
	burst_ms=$(field link_to_hook_ms "$line")
	commits=$(field commits "$line")
	kill -TERM $DAEMON
	wait $DAEMON
	sed 's/^link add \([^ ]*\).*/link del \1/' /tmp/burst >/tmp/unburst
	rx /sbin/ip -batch /tmp/unburst

	# nft -f of the same change: the device exists, one file adds it to the loaded flowtable.
	flags=$(rx nft list flowtable inet fw4_offload ft | sed -n 's/^\t*\(counter\);*$/\1;/p')
	echo "add flowtable inet fw4_offload ft { hook ingress priority filter; devices = { g }; $flags }" >/tmp/add-g.nft
	: >/tmp/nft
	i=0
	while [ $i -lt 5 ]; do
		rx /sbin/ip link add g type dummy
		line=$(hook g -- nft -f /tmp/add-g.nft)
		echo "nft -f, one device: $line"
		field start_to_hook_ms "$line" >>/tmp/nft
		rx /sbin/ip link del g
		i=$((i + 1))
	done
	nft_single=$(median </tmp/nft)
	echo "BENCH hotplug what=single ours_ms=$single nft_ms=$nft_single"
	echo "BENCH hotplug what=burst devices=8 first_ms=$burst_first last_ms=$burst_ms applies=$applies commits=$commits"
	echo "--- daemon log"
	cat /tmp/daemon.log
fi

# ---------------------------------------------------------------- status
# The offload table on eth0 and eth1 (zone config /tmp/hot) offloads what ctfill sends from
# client to server; their kernels drop what reaches them.
if part status; then
	rx fw4-offload --config /tmp/hot apply >/dev/null
	for ns in $CLIENT_NS $SERVER_NS; do
		nsx "$ns" nft 'add table inet sink; add chain inet sink in { type filter hook input priority 0; policy drop; }'
	done
	# Room for 256k entries, none expiring while measured, no frame dropped on the way.
	# A new TCP entry's timeout is at most max_retrans's (tcp_packet: its last_win is 0
	# until a SYN is ignored), so raising syn_sent alone left 300 s: the 64k table's
	# SYN_SENT entries were gone before the 256k one was filled on top of it.
	echo 262144 >/sys/module/nf_conntrack/parameters/hashsize
	sysctl -w net.netfilter.nf_conntrack_max=300000 net.core.netdev_max_backlog=100000
	for key in nf_flowtable_udp_timeout nf_flowtable_tcp_timeout nf_conntrack_udp_timeout \
		nf_conntrack_udp_timeout_stream nf_conntrack_tcp_timeout_syn_sent \
		nf_conntrack_tcp_timeout_max_retrans nf_conntrack_tcp_timeout_unacknowledged; do
		rx sysctl -w net.netfilter.$key=86400
	done
	mac() { nsx "$1" cat "/sys/class/net/$2/address" 2>/dev/null || nsx "$1" /sbin/ip -o link show "$2" | sed 's/.*ether \([^ ]*\).*/\1/'; }
	client="$CLIENT_NS:c-eth0:$(mac "$CLIENT_NS" c-eth0):$(mac "$ROUTER_NS" eth0):$CLIENT_IP"
	server="$SERVER_NS:s-eth0:$(mac "$SERVER_NS" s-eth0):$(mac "$ROUTER_NS" eth1):$SERVER_IP"
	# What status counts, from conntrack -L's text: total, then tcp and udp offloaded in
	# software and hardware.
	cat >/tmp/classes.awk <<'AWK'
{ n++ }
/ \[HW_OFFLOAD\] / { hw[$1]++; next }
/ \[OFFLOAD\] / { sw[$1]++ }
END { printf "%d %d %d %d %d\n", n, sw["tcp"], hw["tcp"], sw["udp"], hw["udp"] }
AWK
	# ours_classes STATUS-JSON: the same five numbers from a status answer
	ours_classes() {
		sed -n '/^  "flows": {/,/^  }/p' "$1" | awk '
			/"(all|tcp|udp|other)": \{/ { group = $1; gsub(/[":{ ]/, "", group) }
			/"total"/ { gsub(/[^0-9]/, ""); total = $0 }
			/"software"/ { gsub(/[^0-9]/, ""); sw[group] = $0 }
			/"hardware"/ { gsub(/[^0-9]/, ""); hw[group] = $0 }
			END { printf "%d %d %d %d %d\n", total, sw["tcp"], hw["tcp"], sw["udp"], hw["udp"] }'
	}
	# peak_kib COMMAND...: the command's peak RSS
	peak_kib() { rx gnutime -f %M "$@" 2>&1 >/dev/null | tail -n 1; }
	# status over ctnetlink, and over /proc (--root /); the same as hyperfine's commands
	status_cmd="fw4-offload --config /tmp/hot status --json"
	proc_cmd="fw4-offload --root / --config /tmp/hot status --json"
	netlink_status() { rx fw4-offload --config /tmp/hot status --json; }
	proc_status() { rx fw4-offload --root / --config /tmp/hot status --json; }
	filled=0
	for n in 1024 65536 262144; do
		t0=$(date +%s)
		ctfill "$client" "$server" $filled $((n - filled))
		filled=$n
		entries=$(rx conntrack -C)
		echo "filled to $n flows in $(($(date +%s) - t0)) s: $entries entries"
		# The same five numbers from each reader, read one after the other.
		netlink_status >/tmp/netlink.json
		grep -q '"source": "ctnetlink"' /tmp/netlink.json || echo "status not from ctnetlink" >&2
		ours=$(ours_classes /tmp/netlink.json)
		theirs=$(rx conntrack -L 2>/dev/null | awk -f /tmp/classes.awk)
		agree=yes
		[ "$ours" = "$theirs" ] || agree=no
		echo "classes (total, tcp sw/hw, udp sw/hw): ctnetlink $ours; conntrack -L $theirs"
		runs=$RUNS
		[ "$n" -gt 100000 ] && runs=3
		t_ours=$(mean_ms "$runs" "$status_cmd")
		t_ct=$(HF_SHELL="sh" mean_ms "$runs" "conntrack -L 2>/dev/null | awk -f /tmp/classes.awk")
		# /proc/net/nf_conntrack gives at most a page a read, and each read walks the table
		# from its first bucket to where the last one stopped (ct_seq_start): its time grows
		# with the square of the table. Timed up to 64k entries, twice.
		t_proc=-
		proc_kib=-
		if [ "$n" -le 65536 ]; then
			proc_status >/tmp/proc.json
			proc=$(ours_classes /tmp/proc.json)
			echo "classes: /proc $proc"
			[ "$proc" = "$theirs" ] || agree=no
			t_proc=$(WARMUP="0" mean_ms 2 "$proc_cmd")
			proc_kib=$(peak_kib fw4-offload --root / --config /tmp/hot status --json)
		fi
		echo "BENCH status entries=$entries ours_ms=$t_ours proc_ms=$t_proc conntrack_ms=$t_ct" \
			"ours_kib=$(peak_kib fw4-offload --config /tmp/hot status --json)" \
			"proc_kib=$proc_kib conntrack_kib=$(peak_kib conntrack -L) agree=$agree" \
			"entries_after=$(rx conntrack -C)"
	done
fi

# ---------------------------------------------------------------- idle
if part idle; then
	zone_config /tmp/idle eth0 eth1
	/sbin/ip netns exec "$ROUTER_NS" fw4-offload --config /tmp/idle -s /nonexistent/ubus.sock \
		--syslog /nonexistent/log daemon 2>/tmp/idle.log &
	DAEMON=$!
	wait_for 30 sh -c "/sbin/ip netns exec $ROUTER_NS nft list flowtable inet fw4_offload ft 2>/dev/null | grep -q eth1"
	sleep 2
	echo "BENCH idle arch=$(uname -m) rss_kib=$(awk '/^VmRSS/ { print $2 }' /proc/$DAEMON/status)"
	kill -TERM $DAEMON
	wait $DAEMON
fi

topo_down
