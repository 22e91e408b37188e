/*
 * cecho: the C reference echo server for bench/echo.sh. One thread, one
 * level-triggered epoll loop, non-blocking sockets. Whatever cannot be
 * written at once is kept in a per-connection buffer and the connection
 * stops reading until EPOLLOUT drains it, so memory stays bounded by
 * one read per connection. An idle connection costs a small struct.
 * While output is pending the connection is not read, so a half-close
 * (EOF) is seen, and the connection closed, only after it is flushed.
 *
 *   gcc -O2 -o cecho echo.c && ./cecho PORT      (binds 127.0.0.1:PORT)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* 32 KiB, as Go's io.Copy: a 64 KiB read echoed as one write leaves a
 * 53-byte tail past loopback's 65,483-byte MSS, and the stream test ran at
 * half the throughput of 16, 32 or 256 KiB. */
#define READ_SIZE 32768
#define BACKLOG 4096
#define MAX_EVENTS 512

struct conn {
	char *pending; /* unsent echo, NULL when none */
	size_t len, off;
};

static struct conn *conns; /* indexed by fd */
static size_t nconns;
static int ep;
static char rbuf[READ_SIZE];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void drop(int fd)
{
	free(conns[fd].pending);
	memset(&conns[fd], 0, sizeof conns[fd]);
	close(fd); /* also removes it from the epoll set */
}

static void watch(int fd, int op, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die("epoll_ctl");
}

/* flush writes what is pending; it returns -1 when the connection is gone. */
static int flush(int fd)
{
	struct conn *c = &conns[fd];
	while (c->off < c->len) {
		ssize_t n = write(fd, c->pending + c->off, c->len - c->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		c->off += (size_t)n;
	}
	free(c->pending);
	c->pending = NULL;
	c->len = c->off = 0;
	watch(fd, EPOLL_CTL_MOD, EPOLLIN); /* back to reading */
	return 0;
}

/* echo reads what arrived and writes it back, keeping what the socket
 * would not take; it returns -1 when the connection is gone. */
static int echo(int fd)
{
	struct conn *c = &conns[fd];
	for (;;) {
		ssize_t n = read(fd, rbuf, sizeof rbuf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1; /* EOF with nothing pending, or an error */
		ssize_t w = 0;
		while (w < n) {
			ssize_t m = write(fd, rbuf + w, (size_t)(n - w));
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0 && errno == EAGAIN)
				break;
			if (m < 0)
				return -1;
			w += m;
		}
		if (w < n) {
			c->len = (size_t)(n - w);
			c->off = 0;
			c->pending = malloc(c->len);
			if (!c->pending)
				return -1;
			memcpy(c->pending, rbuf + w, c->len);
			watch(fd, EPOLL_CTL_MOD, EPOLLOUT); /* pause reading */
			return 0;
		}
		if ((size_t)n < sizeof rbuf)
			return 0; /* drained; level-triggered epoll reports more */
	}
}

static void accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("accept4"); /* EMFILE: retried on the next event */
			return;
		}
		if ((size_t)fd >= nconns) {
			size_t n = nconns;
			while ((size_t)fd >= n)
				n *= 2;
			struct conn *grown = realloc(conns, n * sizeof *conns);
			if (!grown) {
				close(fd);
				continue;
			}
			memset(grown + nconns, 0, (n - nconns) * sizeof *conns);
			conns = grown;
			nconns = n;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as Go does */
		watch(fd, EPOLL_CTL_ADD, EPOLLIN);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(lfd, BACKLOG) < 0)
		die("listen");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	nconns = 1024;
	conns = calloc(nconns, sizeof *conns);
	if (!conns)
		die("calloc");
	watch(lfd, EPOLL_CTL_ADD, EPOLLIN);
	fprintf(stderr, "cecho: listening on 127.0.0.1:%s\n", argv[1]);

	struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				accept_all(lfd);
				continue;
			}
			int gone;
			if (conns[fd].pending)
				gone = (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ? flush(fd) : 0;
			else
				gone = echo(fd);
			if (gone)
				drop(fd);
		}
	}
}
