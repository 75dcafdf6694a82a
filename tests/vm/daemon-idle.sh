# tests/vm/daemon-idle.sh - the daemon at rest (run by bench/run in the arm64 guest, with
# make cross's aarch64 router build: the memory a mt7986 router would see). It starts,
# applies over netlink, then idles; without ubusd (it retries every 2 s) and without
# syslog (stderr). Prints its VmRSS after the first apply and after IDLE seconds, split
# into anonymous memory and the binary's own pages (shmem here: the initramfs is a tmpfs;
# file pages from squashfs on a router).
# shellcheck source=vm/lib.sh
. /vm/lib.sh

IDLE=${IDLE:-10}
ip link add eth0 type veth peer name peer0
ip link add eth1 type veth peer name peer1
mkdir -p /tmp/cfg
printf "config defaults\n\toption flow_offloading '1'\n\nconfig zone\n\toption name 'lan'\n\tlist network 'lan'\n\nconfig zone\n\toption name 'wan'\n\tlist network 'wan'\n" >/tmp/cfg/firewall
printf "config interface 'lan'\n\toption device 'eth0'\n\nconfig interface 'wan'\n\toption device 'eth1'\n" >/tmp/cfg/network

fw4-offload --config /tmp/cfg -s /nonexistent/ubus.sock --syslog /nonexistent/log daemon 2>/tmp/daemon.log &
DAEMON=$!
loaded() { nft list flowtable inet fw4_offload ft >/dev/null 2>&1; }
# the first apply is done once the flowtable is loaded (at most 30 s)
i=0
while ! loaded && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! loaded; then
	echo "daemon: no first apply"
	cat /tmp/daemon.log
	exit 1
fi

# rss: VmRSS (RssAnon + RssFile + RssShmem) in KiB, with its parts; fails once the
# daemon is gone
rss() {
	kill -0 "$DAEMON" 2>/dev/null || { echo "daemon: exited"; cat /tmp/daemon.log; return 1; }
	awk '/^VmRSS/ { t = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } /^RssShmem/ { s = $2 }
		END { printf "RSS %d KiB (anonymous %d, file %d, shmem %d)\n", t, a, f, s }' "/proc/$DAEMON/status"
}
first=$(rss) || { echo "$first"; exit 1; }
echo "daemon after the first apply: $first"
sleep "$IDLE"
idle=$(rss) || { echo "$idle"; exit 1; }
echo "daemon idle ${IDLE} s ($(uname -m), kernel $(uname -r)): $idle"
kill "$DAEMON"
