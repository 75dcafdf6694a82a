# tests/vm/router.sh - the router of tests/vm-router (inside the VM): the scratch router
# root the host built (/vm/router.tar: OpenWrt's ubusd, rpcd, uhttpd, the exporter, the
# fw4-offload daemon, the LuCI app and the collector) on a kernel with flowtables, with a
# TCP and a UDP flow through the router namespace, reachable from the host over QEMU's
# user network (10.0.2.15 on a virtio NIC whose modules the host brings in /vm/mods) and
# run by the host through a virtio serial port: each line it sends is a base64 shell
# command, answered with one line, "STATUS BASE64-OUTPUT"; "exit" ends the VM.
ROUTER_LAN_DEV=lan1
ROUTER_WAN_DEV=wan
# shellcheck source=vm/lib.sh
. /vm/lib.sh

PORT=/dev/vport1p1
die() { echo "router.sh: $*"; exit 1; }

for m in failover net_failover virtio_net; do insmod /vm/mods/$m.ko || die "insmod $m"; done
{ ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0; } || die "no virtio NIC"

{ mkdir /router && tar -xf /vm/router.tar -C /router; } || die "router.tar"
mount -t proc proc /router/proc

# The router: lan1 towards a client, wan towards a server; a TCP and a UDP flow held
# open, with a message every second, so they are offloaded as soon as the daemon has
# applied its flowtable.
topo_up
{ start_server tcp 5001 && start_server udp 5002; } || die "servers"
start_client tcp1 tcp "$SERVER_IP" 5001 -n 5 -i 50 -h 900000 -k 1000
start_client udp1 udp "$SERVER_IP" 5002 -n 5 -i 50 -h 900000 -k 1000
{ wait_ready tcp1 && wait_ready udp1; } || die "clients"

# What the daemon decides from: the router namespace's devices as fw4-offload snapshot
# records them, which claim hw-tc-offload (as a driver with tc offload but no flowtable
# offload does: the kernel refuses hardware with EOPNOTSUPP, the apply falls back), and
# the live conntrack table (snapshot/proc is /proc, which shows the reader's namespace).
rm -rf /router/snapshot
nsx "$ROUTER_NS" sh -c 'mount --bind /sys /router/sys &&
	exec chroot /router /usr/sbin/fw4-offload --config /etc/config snapshot /snapshot' ||
	die "snapshot"
sed -i 's/^hw-tc-offload: .*/hw-tc-offload: on/' /router/snapshot/ethtool/*
ln -s /proc /router/snapshot/proc

exec 3<>"$PORT" || die "no control port $PORT"
echo READY >&3
while read -r line <&3; do
	[ "$line" = exit ] && break
	out=$(echo "$line" | base64 -d | sh 2>&1)
	rc=$?
	printf '%d %s\n' "$rc" "$(printf '%s' "$out" | base64 | tr -d '\n')" >&3
done
for f in /tmp/*.log; do echo "== $f" && cat "$f"; done
release_client tcp1
release_client udp1
topo_down
