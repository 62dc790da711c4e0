#!/usr/bin/env python3
"""asynchat_echo.py: the benchmark's CPython peer: the line echo server of
the classic asynchat tutorial, on CPython 3.11's own asyncore/asynchat.

Usage: asynchat_echo.py [--host ADDR] [--port N] [--poll]
Prints "listening on HOST:PORT"; SIGINT/SIGTERM end it with exit 0.
"""
import argparse
import signal
import socket
import sys
import warnings

with warnings.catch_warnings():
    # Both modules are deprecated (removed in 3.12); this peer exists to
    # measure exactly them.
    warnings.simplefilter("ignore", DeprecationWarning)
    import asynchat
    import asyncore


class EchoHandler(asynchat.async_chat):
    """Collects a line, pushes it back with its terminator."""

    def __init__(self, sock):
        asynchat.async_chat.__init__(self, sock=sock)
        self.set_terminator(b"\r\n")
        self.ibuffer = []

    def collect_incoming_data(self, data):
        self.ibuffer.append(data)

    def found_terminator(self):
        self.push(b"".join(self.ibuffer) + b"\r\n")
        self.ibuffer = []


class EchoServer(asyncore.dispatcher):
    def __init__(self, host, port):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind((host, port))
        self.listen(128)

    def handle_accepted(self, sock, addr):
        EchoHandler(sock)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--poll", action="store_true",
                    help="asyncore.loop(use_poll=True) instead of select")
    args = ap.parse_args()

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    server = EchoServer(args.host, args.port)
    host, port = server.socket.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        asyncore.loop(timeout=30.0, use_poll=args.poll)
    except KeyboardInterrupt:
        pass
    asyncore.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
