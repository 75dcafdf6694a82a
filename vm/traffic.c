/* vm/traffic.c - tiny TCP/UDP echo server and client for the fw4-offload VM tests.
 *
 * Built statically with the host gcc by vm/run and put into the initramfs as
 * /bin/traffic.  Busybox nc has no UDP, and a test must be able to see a flow in
 * conntrack (e.g. [OFFLOAD]) while the connection is still open, so the client
 * sends its messages, then keeps the socket open for a while before closing.
 *
 *   traffic server tcp|udp [-b ADDR] PORT
 *       Echo server.  TCP: one child process per connection.  UDP: echoes every
 *       datagram to its sender.  Default ADDR is :: (dual stack), or 0.0.0.0 when
 *       the kernel has no IPv6.  Runs until killed.
 *
 *   traffic client tcp|udp [-n COUNT] [-i MS] [-h MS] [-k MS] [-u FILE] [-s SIZE] [-w MS] [-r FILE] HOST PORT
 *       Sends COUNT messages (default 10) of SIZE bytes (default 100), waiting for
 *       each echo (at most -w MS, default 2000) and pausing -i MS (default 200)
 *       between them; then prints "holding" (and creates FILE if -r is given),
 *       keeps the socket open for -h MS (default 0; with -u, until the file -u
 *       names exists, at most -h MS, polled every 10 ms), with -k one more message
 *       every -k MS meanwhile (an idle flow leaves the flowtable after 30 s),
 *       closes it, and prints
 *         traffic client PROTO: sent=N bytes_sent=B received=M bytes_received=R
 *       Exits 0 if every byte came back, 1 otherwise, 2 on usage/socket errors.
 *
 *   traffic flood udp [-n COUNT] HOST PORT
 *       Opens COUNT UDP flows to HOST, one datagram each and no wait for an answer:
 *       destination ports PORT to PORT+FLOOD_PORTS-1, from as many sockets (each its own
 *       source port) as COUNT needs. For a conntrack table of COUNT entries.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "traffic: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: traffic server tcp|udp [-b ADDR] PORT\n"
		"       traffic client tcp|udp [-n COUNT] [-i MS] [-h MS] [-k MS] [-u FILE] [-s SIZE] [-w MS] [-r FILE] HOST PORT\n"
		"       traffic flood udp [-n COUNT] HOST PORT\n");
	exit(2);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Parse a numeric IPv4/IPv6 address (no DNS: the binary is static). */
static socklen_t parse_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	fprintf(stderr, "traffic: not a numeric address: %s\n", host);
	exit(2);
}

static ssize_t write_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += n;
	}
	return done;
}

static void tcp_echo(int fd)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(fd, buf, n) < 0)
			break;
	}
	close(fd);
}

static int server(int tcp, const char *bind_addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = -1, one = 1, zero = 0;

	if (bind_addr) {
		sl = parse_addr(bind_addr, port, &ss);
		fd = socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	} else {
		sl = parse_addr("::", port, &ss);
		fd = socket(AF_INET6, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (fd >= 0) {
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		} else {
			sl = parse_addr("0.0.0.0", port, &ss);
			fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
		}
	}
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		die("bind");

	if (tcp) {
		signal(SIGCHLD, SIG_IGN); /* auto-reap connection children */
		if (listen(fd, 64) < 0)
			die("listen");
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0) {
				if (errno == EINTR)
					continue;
				die("accept");
			}
			pid_t pid = fork();
			if (pid == 0) {
				close(fd);
				tcp_echo(c);
				_exit(0);
			}
			close(c);
		}
	} else {
		char buf[65536];
		for (;;) {
			struct sockaddr_storage peer;
			socklen_t pl = sizeof(peer);
			ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("recvfrom");
			}
			sendto(fd, buf, n, 0, (struct sockaddr *)&peer, pl);
		}
	}
	return 0;
}

/* Wait for up to `want` bytes within timeout_ms; returns bytes read. */
static size_t recv_echo(int fd, int tcp, size_t want, int timeout_ms)
{
	char buf[65536];
	size_t got = 0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (got < want) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			break;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, timeout_ms - elapsed);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			fprintf(stderr, "traffic: recv: %s\n", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		got += n;
		if (!tcp) /* one datagram per message */
			break;
	}
	return got;
}

/* Sends message number i and waits for its echo; counts both. */
static void exchange(int fd, int tcp, char *msg, size_t size, int i, int wait_ms,
		     int *sent, size_t *sent_bytes, int *received, size_t *recv_bytes)
{
	memset(msg, 'a' + i % 26, size);
	if (size >= 8)
		snprintf(msg, 8, "%07u", (unsigned)i % 10000000u);
	ssize_t n = tcp ? write_all(fd, msg, size) : send(fd, msg, size, 0);
	if (n < 0) {
		fprintf(stderr, "traffic: send: %s\n", strerror(errno));
		return;
	}
	(*sent)++;
	*sent_bytes += size;
	size_t got = recv_echo(fd, tcp, size, wait_ms);
	*recv_bytes += got;
	if (got == size)
		(*received)++;
}

static int client(int tcp, const char *host, int port, int count, long interval_ms,
		  long hold_ms, long keepalive_ms, const char *release_file, size_t size,
		  int wait_ms, const char *ready_file)
{
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(host, port, &ss);
	int fd = socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		die("connect");
	if (tcp) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}

	char *msg = malloc(size ? size : 1);
	if (!msg)
		die("malloc");
	size_t sent_bytes = 0, recv_bytes = 0;
	int sent = 0, received = 0;
	for (int i = 0; i < count; i++) {
		exchange(fd, tcp, msg, size, i, wait_ms, &sent, &sent_bytes, &received, &recv_bytes);
		if (sent <= i)
			break;
		if (i + 1 < count && interval_ms > 0)
			sleep_ms(interval_ms);
	}
	int expected = sent;

	printf("holding\n");
	fflush(stdout);
	if (ready_file) {
		int rf = open(ready_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (rf >= 0)
			close(rf);
	}
	for (long t = 0; t < hold_ms && !(release_file && access(release_file, F_OK) == 0); t += 10) {
		sleep_ms(10);
		if (keepalive_ms > 0 && t % keepalive_ms == keepalive_ms - 10) {
			exchange(fd, tcp, msg, size, expected, wait_ms, &sent, &sent_bytes,
				 &received, &recv_bytes);
			expected++;
		}
	}
	close(fd);

	printf("traffic client %s: sent=%d bytes_sent=%zu received=%d bytes_received=%zu\n",
	       tcp ? "tcp" : "udp", sent, sent_bytes, received, recv_bytes);
	fflush(stdout);
	return (sent == expected && expected >= count && recv_bytes == sent_bytes) ? 0 : 1;
}

#define FLOOD_PORTS 32768

static int flood(const char *host, int port, int count)
{
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(host, port, &ss);
	int fd = -1, sent = 0;
	if (port < 1 || port + FLOOD_PORTS > 65536)
		usage();
	for (int i = 0; i < count; i++) {
		if (i % FLOOD_PORTS == 0) {
			if (fd >= 0)
				close(fd);
			fd = socket(ss.ss_family, SOCK_DGRAM, 0);
			if (fd < 0)
				die("socket");
		}
		int p = port + i % FLOOD_PORTS;
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(p);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(p);
		/* A full queue (ENOBUFS, EAGAIN) or a port unreachable coming back: try again. */
		while (sendto(fd, "f", 1, 0, (struct sockaddr *)&ss, sl) < 0) {
			if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN &&
			    errno != ECONNREFUSED)
				die("sendto");
			if (errno != ECONNREFUSED)
				sleep_ms(1);
		}
		sent++;
	}
	printf("traffic flood udp: sent=%d\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	int is_server, is_flood = !strcmp(argv[1], "flood");
	if (!strcmp(argv[1], "server"))
		is_server = 1;
	else if (!strcmp(argv[1], "client") || is_flood)
		is_server = 0;
	else
		usage();
	int tcp;
	if (!strcmp(argv[2], "tcp"))
		tcp = 1;
	else if (!strcmp(argv[2], "udp"))
		tcp = 0;
	else
		usage();

	const char *bind_addr = NULL, *ready_file = NULL, *release_file = NULL;
	int count = 10, wait_ms = 2000;
	long interval_ms = 200, hold_ms = 0, keepalive_ms = 0;
	size_t size = 100;
	int opt;
	optind = 3;
	while ((opt = getopt(argc, argv, "b:n:i:h:k:u:s:w:r:")) != -1) {
		switch (opt) {
		case 'b': bind_addr = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 'i': interval_ms = atol(optarg); break;
		case 'h': hold_ms = atol(optarg); break;
		case 'k': keepalive_ms = atol(optarg); break;
		case 'u': release_file = optarg; break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 'w': wait_ms = atoi(optarg); break;
		case 'r': ready_file = optarg; break;
		default: usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (is_server) {
		if (optind + 1 != argc)
			usage();
		return server(tcp, bind_addr, atoi(argv[optind]));
	}
	if (optind + 2 != argc || size > 65000 || (is_flood && tcp))
		usage();
	if (is_flood)
		return flood(argv[optind], atoi(argv[optind + 1]), count);
	return client(tcp, argv[optind], atoi(argv[optind + 1]), count, interval_ms, hold_ms, keepalive_ms,
		      release_file, size, wait_ms, ready_file);
}
