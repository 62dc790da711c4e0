/* levent_echo.c: the benchmark's libevent 2.1 peer: the canonical
 * bufferevent line echo (evbuffer_readln on "\r\n", evbuffer_add back), as
 * a libevent user would write it.  SIGINT/SIGTERM end it cleanly. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static void on_read(struct bufferevent *bev, void *ud)
{
    (void)ud;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer *out = bufferevent_get_output(bev);
    size_t len;
    char *line;
    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF_STRICT))) {
        evbuffer_add(out, line, len);
        evbuffer_add(out, "\r\n", 2);
        free(line);
    }
}

static void on_event(struct bufferevent *bev, short what, void *ud)
{
    (void)ud;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *addr, int len, void *ud)
{
    (void)addr, (void)len, (void)ud;
    struct event_base *base = evconnlistener_get_base(l);
    struct bufferevent *bev =
        bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *base)
{
    (void)sig, (void)what;
    event_base_loopbreak(base);
}

static int usage(FILE *f, int rc)
{
    fputs("usage: levent-echo [--host ADDR] [--port N]\n", f);
    return rc;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "0";
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, 0);
        if (i + 1 == argc ||
            (strcmp(argv[i], "--host") && strcmp(argv[i], "--port")))
            return usage(stderr, 2);
        *(!strcmp(argv[i], "--host") ? &host : &port) = argv[i + 1];
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST |
                             AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "levent-echo: %s:%s: %s\n", host, port,
                gai_strerror(rc));
        return usage(stderr, 2);
    }
    struct event_base *base = event_base_new();
    struct evconnlistener *l = base == NULL ? NULL :
        evconnlistener_new_bind(base, on_accept, NULL,
                                LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                LEV_OPT_CLOSE_ON_EXEC, -1,
                                ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (l == NULL) {
        perror("levent-echo: listen");
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[NI_MAXHOST], p[NI_MAXSERV];
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf("listening on %s:%s (libevent %s, %s)\n", h, p,
           event_get_version(), event_base_get_method(base));
    fflush(stdout);
    struct event *si = evsignal_new(base, SIGINT, on_signal, base);
    struct event *st = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(si, NULL);
    event_add(st, NULL);
    event_base_dispatch(base);
    event_free(si);
    event_free(st);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
