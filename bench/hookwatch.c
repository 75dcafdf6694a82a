/*
 * hookwatch - how long until the kernel holds a flowtable hook on new devices.
 *
 *   hookwatch [-t TIMEOUT_MS] [-l LINGER_MS] DEVICE... -- COMMAND [ARG...]
 *
 * Listens to rtnetlink link events and nf_tables' own notifications in the current
 * network namespace, runs COMMAND, and waits until every DEVICE has appeared (RTM_NEWLINK)
 * and been named in a NEWFLOWTABLE notification (a flowtable created with it, or the
 * device added to one in place). Both are kernel events, stamped on arrival with
 * CLOCK_MONOTONIC, so the figure is the kernel's view: from the first device existing to
 * the last device hooked, whatever process does the work (a daemon following link events,
 * or COMMAND itself, e.g. `nft -f`). Prints one line:
 *
 *   start_to_hook_ms=F link_to_hook_ms=F link_to_first_hook_ms=F commits=N
 *
 * start_to_hook: COMMAND started -> last device hooked; link_to_hook: first device
 * appeared -> last device hooked; link_to_first_hook: first device appeared -> first
 * device hooked (both -1 when no device appeared: COMMAND created none); commits:
 * nf_tables transactions (NEWGEN notifications) from the start to LINGER_MS (default 100)
 * after the last hook. Exit 1 on timeout (default 10 s) or if COMMAND fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 64

static const char *names[MAX_DEVICES];
static double linked[MAX_DEVICES], hooked[MAX_DEVICES];
static int ndev;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int find(const char *name, int len)
{
	for (int i = 0; i < ndev; i++)
		if ((int)strnlen(name, len) == (int)strlen(names[i]) &&
		    !strncmp(name, names[i], len))
			return i;
	return -1;
}

static int listen_to(int protocol, unsigned int group)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	int size = 4 << 20;

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		perror("hookwatch: netlink");
		exit(2);
	}
	/* A burst of notifications must not overflow the queue. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	return fd;
}

/* for each attribute a in [start, start + len) */
#define ATTRS(a, start, len) \
	for (struct nlattr *a = (struct nlattr *)(start); \
	     (char *)a + NLA_HDRLEN <= (char *)(start) + (len) && a->nla_len >= NLA_HDRLEN && \
	     (char *)a + a->nla_len <= (char *)(start) + (len); \
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
#define KIND(a) ((a)->nla_type & NLA_TYPE_MASK)
#define DATA(a) ((char *)(a) + NLA_HDRLEN)
#define DATALEN(a) ((int)(a)->nla_len - NLA_HDRLEN)

static void link_event(struct nlmsghdr *h, double t)
{
	int off = NLMSG_LENGTH(sizeof(struct ifinfomsg));

	if (h->nlmsg_type != RTM_NEWLINK)
		return;
	ATTRS(a, (char *)h + off, (int)h->nlmsg_len - off) {
		int i = KIND(a) == IFLA_IFNAME ? find(DATA(a), DATALEN(a)) : -1;

		if (i >= 0 && !linked[i])
			linked[i] = t;
	}
}

static int nft_event(struct nlmsghdr *h, double t)
{
	int off = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	int type = NFNL_MSG_TYPE(h->nlmsg_type);

	if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return 0;
	if (type == NFT_MSG_NEWGEN)
		return 1;
	if (type != NFT_MSG_NEWFLOWTABLE)
		return 0;
	ATTRS(a, (char *)h + off, (int)h->nlmsg_len - off) {
		if (KIND(a) != NFTA_FLOWTABLE_HOOK)
			continue;
		ATTRS(hook, DATA(a), DATALEN(a)) {
			if (KIND(hook) != NFTA_FLOWTABLE_HOOK_DEVS)
				continue;
			ATTRS(dev, DATA(hook), DATALEN(hook)) {
				int i = find(DATA(dev), DATALEN(dev));

				if (i >= 0 && !hooked[i])
					hooked[i] = t;
			}
		}
	}
	return 0;
}

/* Reads every queued message; returns the NEWGEN count. */
static int drain(int fd, int nft)
{
	static char buf[1 << 16];
	int commits = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		double t = now_ms();

		if (n < 0) {
			if (errno == EAGAIN)
				return commits;
			perror("hookwatch: recv (events lost)");
			exit(2);
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			if (nft)
				commits += nft_event(h, t);
			else
				link_event(h, t);
		}
	}
}

int main(int argc, char **argv)
{
	double timeout = 10000, linger = 100, start, first_link = 0, first_hook = 0, last_hook = 0;
	int i, commits = 0, status = 0, command_done = 0;
	struct pollfd fds[2];
	pid_t pid;

	while (argc > 2 && (!strcmp(argv[1], "-t") || !strcmp(argv[1], "-l"))) {
		*(argv[1][1] == 't' ? &timeout : &linger) = atof(argv[2]);
		argv += 2;
		argc -= 2;
	}
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (ndev < MAX_DEVICES)
			names[ndev++] = argv[i];
	if (i >= argc - 1 || ndev == 0) {
		fprintf(stderr,
			"usage: hookwatch [-t TIMEOUT_MS] [-l LINGER_MS] DEVICE... -- COMMAND [ARG...]\n");
		return 2;
	}
	fds[0] = (struct pollfd){ .fd = listen_to(NETLINK_ROUTE, RTNLGRP_LINK), .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = listen_to(NETLINK_NETFILTER, NFNLGRP_NFTABLES),
				  .events = POLLIN };
	start = now_ms();
	pid = fork();
	if (pid == 0) {
		execvp(argv[i + 1], argv + i + 1);
		perror("hookwatch: exec");
		_exit(127);
	}
	for (;;) {
		double done_at = 0;

		if (!command_done && waitpid(pid, &status, WNOHANG) == pid)
			command_done = 1;
		for (int d = 0; d < ndev && done_at >= 0; d++)
			done_at = hooked[d] > 0 ? (hooked[d] > done_at ? hooked[d] : done_at) : -1;
		if (done_at > 0 && command_done && now_ms() >= done_at + linger)
			break;
		if (now_ms() - start > timeout + linger) {
			fprintf(stderr, "hookwatch: timeout:");
			for (int d = 0; d < ndev; d++)
				if (!hooked[d])
					fprintf(stderr, " %s", names[d]);
			fprintf(stderr, " not hooked\n");
			return 1;
		}
		if (poll(fds, 2, 5) > 0) {
			drain(fds[0].fd, 0);
			commits += drain(fds[1].fd, 1);
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "hookwatch: %s failed\n", argv[i + 1]);
		return 1;
	}
	for (int d = 0; d < ndev; d++) {
		if (linked[d] && (!first_link || linked[d] < first_link))
			first_link = linked[d];
		if (hooked[d] > last_hook)
			last_hook = hooked[d];
		if (!first_hook || hooked[d] < first_hook)
			first_hook = hooked[d];
	}
	printf("start_to_hook_ms=%.1f link_to_hook_ms=%.1f link_to_first_hook_ms=%.1f commits=%d\n",
	       last_hook - start, first_link ? last_hook - first_link : -1.0,
	       first_link ? first_hook - first_link : -1.0, commits);
	return 0;
}
