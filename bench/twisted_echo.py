"""Python Twisted's echo server on the epoll reactor, the reference for
bench/echo.sh:  /usr/bin/python3 bench/twisted_echo.py PORT  (127.0.0.1).

The protocol is Twisted's own twisted.protocols.wire.Echo; like the other
reference servers it turns Nagle's algorithm off and listens with a
backlog of 4096.
"""
import resource
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import protocol, reactor  # noqa: E402
from twisted.protocols import wire  # noqa: E402


class Echo(wire.Echo):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: twisted_echo.py PORT")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    factory = protocol.Factory.forProtocol(Echo)
    reactor.listenTCP(int(sys.argv[1]), factory, backlog=4096, interface="127.0.0.1")
    print("twisted_echo: listening on 127.0.0.1:%s (%s)" % (sys.argv[1], type(reactor).__name__), file=sys.stderr)
    reactor.run()


if __name__ == "__main__":
    main()
