/*
 * ctfill - fill a router's conntrack table with real entries, half of them offloaded.
 *
 *   ctfill CLIENT SERVER FIRST COUNT
 *
 * CLIENT and SERVER are NS:DEV:MAC:ROUTER_MAC:IP: a network namespace (as `ip netns`
 * names it), its device facing the router, that device's MAC, the router's MAC on the
 * other end, and the namespace's IPv4 address. ctfill writes frames straight onto both
 * devices (AF_PACKET), so that the router sees, for flow i of [FIRST, FIRST + COUNT):
 *   - i % 10 < 7: UDP from CLIENT to SERVER; when offloaded, the SERVER's answer follows,
 *     and the router's `flow add` offloads the entry on it;
 *   - otherwise TCP: a SYN; when offloaded, the SYN-ACK and the ACK that establish it,
 *     on which the entry is offloaded;
 *   - flows with i % 2 == 0 are offloaded; the others stay at their first packet
 *     (UDP unreplied, TCP SYN_SENT).
 * Each flow has its own source and destination port (ports 1024 + i % 64000 and
 * 1 + i / 64000). Both namespaces must drop what reaches them (their kernels would
 * otherwise answer with ICMP errors and RSTs), and the router must forward between them
 * with a flowtable. Checksums are real: conntrack checks them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct side {
	int fd;
	struct sockaddr_ll to;
	uint8_t mac[6], router_mac[6];
	uint32_t ip; /* network order */
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void parse_mac(const char *text, uint8_t *mac)
{
	if (sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		   &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "ctfill: bad MAC %s\n", text);
		exit(2);
	}
}

/* NS:DEV:MAC:ROUTER_MAC:IP; the packet socket is opened inside NS. */
static void open_side(char *spec, struct side *s)
{
	char *ns = strtok(spec, ":"), *dev = strtok(NULL, ":"), path[256];
	char mac[18], router_mac[18];
	const char *rest = strtok(NULL, "");
	int nsfd;

	if (!ns || !dev || !rest || strlen(rest) < 36) {
		fprintf(stderr, "ctfill: bad side NS:DEV:MAC:ROUTER_MAC:IP\n");
		exit(2);
	}
	memcpy(mac, rest, 17);
	mac[17] = 0;
	memcpy(router_mac, rest + 18, 17);
	router_mac[17] = 0;
	parse_mac(mac, s->mac);
	parse_mac(router_mac, s->router_mac);
	if (inet_pton(AF_INET, rest + 36, &s->ip) != 1) {
		fprintf(stderr, "ctfill: bad IP %s\n", rest + 36);
		exit(2);
	}
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		die(path);
	close(nsfd);
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (s->fd < 0)
		die("socket");
	memset(&s->to, 0, sizeof(s->to));
	s->to.sll_family = AF_PACKET;
	s->to.sll_protocol = htons(ETH_P_IP);
	s->to.sll_ifindex = if_nametoindex(dev);
	s->to.sll_halen = 6;
	memcpy(s->to.sll_addr, s->router_mac, 6);
	if (!s->to.sll_ifindex)
		die(dev);
}

static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += (p[0] << 8) | p[1];
	if (len)
		sum += p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* One IPv4 packet from `from` to `to` carrying `l4` (its checksum field zeroed). */
static void send_packet(struct side *from, struct side *to, uint8_t proto, void *l4,
			size_t l4len, uint16_t *l4sum)
{
	uint8_t frame[128];
	struct ether_header *eth = (void *)frame;
	struct iphdr *ip = (void *)(frame + sizeof(*eth));
	uint32_t pseudo;

	memcpy(eth->ether_dhost, from->router_mac, 6);
	memcpy(eth->ether_shost, from->mac, 6);
	eth->ether_type = htons(ETH_P_IP);
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons(sizeof(*ip) + l4len);
	ip->saddr = from->ip;
	ip->daddr = to->ip;
	ip->check = fold(sum16(ip, sizeof(*ip), 0));
	/* pseudo header: addresses, protocol, length */
	pseudo = sum16(&ip->saddr, 8, 0) + proto + l4len;
	*l4sum = 0;
	*l4sum = fold(sum16(l4, l4len, pseudo));
	memcpy(frame + sizeof(*eth) + sizeof(*ip), l4, l4len);
	if (sendto(from->fd, frame, sizeof(*eth) + sizeof(*ip) + l4len, 0,
		   (struct sockaddr *)&from->to, sizeof(from->to)) < 0)
		die("sendto");
}

static void udp(struct side *from, struct side *to, uint16_t sport, uint16_t dport)
{
	struct {
		struct udphdr h;
		char data[4];
	} u = { .data = "ct!" };

	u.h.source = htons(sport);
	u.h.dest = htons(dport);
	u.h.len = htons(sizeof(u));
	send_packet(from, to, IPPROTO_UDP, &u, sizeof(u), &u.h.check);
}

static void tcp(struct side *from, struct side *to, uint16_t sport, uint16_t dport,
		uint32_t seq, uint32_t ack, int syn)
{
	struct tcphdr t;

	memset(&t, 0, sizeof(t));
	t.source = htons(sport);
	t.dest = htons(dport);
	t.seq = htonl(seq);
	t.ack_seq = htonl(ack);
	t.doff = sizeof(t) / 4;
	t.syn = syn;
	t.ack = ack != 0;
	t.window = htons(64240);
	send_packet(from, to, IPPROTO_TCP, &t, sizeof(t), &t.check);
}

int main(int argc, char **argv)
{
	struct side client, server;
	unsigned long first, count;

	if (argc != 5) {
		fprintf(stderr, "usage: ctfill NS:DEV:MAC:ROUTER_MAC:IP NS:DEV:MAC:ROUTER_MAC:IP FIRST COUNT\n");
		return 2;
	}
	open_side(argv[1], &client);
	open_side(argv[2], &server);
	first = strtoul(argv[3], NULL, 10);
	count = strtoul(argv[4], NULL, 10);
	for (unsigned long i = first; i < first + count; i++) {
		uint16_t sport = 1024 + i % 64000, dport = 1 + i / 64000;
		int offloaded = i % 2 == 0;

		if (i % 10 < 7) {
			udp(&client, &server, sport, dport);
			if (offloaded)
				udp(&server, &client, dport, sport);
		} else {
			tcp(&client, &server, sport, dport, 1000, 0, 1);
			if (offloaded) {
				tcp(&server, &client, dport, sport, 5000, 1001, 1);
				tcp(&client, &server, sport, dport, 1001, 5001, 0);
			}
		}
	}
	return 0;
}
