#!/usr/bin/python3
"""guestfwd.py HOST PORT: one QEMU guest connection, relayed to a service on the host.

QEMU user networking (restrict=on) lets a guest reach the host only through
`guestfwd` rules. Its `guestfwd=tcp:ADDR:PORT-tcp:HOST:HPORT` form opens ONE
host connection when QEMU starts and pours every guest connection to
ADDR:PORT into it, without ever telling the guest that the host side closed:
no reconnecting to a restarted MQTT broker, no second HTTP request. The
`-cmd:` form runs a command for each guest connection, with the connection
as its stdin/stdout, which is what this script is for:

  -netdev user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:1883-cmd:/usr/bin/python3 -I -S
          ota-server/guestfwd.py 127.0.0.1 <broker port>

(one argument, no commas). It connects to HOST:PORT (127.0.0.1 only: the
guest must reach nothing else) and copies bytes both ways, passing on each
side's end of data (half-close) and a reset as a reset, then exits. If the
service is not there, the guest's connection is closed at once. Nothing is
ever written to stderr: QEMU gives the guest's connection as stderr too.
"""
import os
import select
import socket
import sys


def relay(guest, host, port):
    try:
        up = socket.create_connection((host, port), timeout=10)
    except OSError:
        return
    up.settimeout(None)
    socks = {guest: up, up: guest}
    open_in = {guest, up}           # sides still sending to us
    try:
        while open_in:
            ready, _, _ = select.select(list(open_in), [], [])
            for s in ready:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    socks[s].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                    return              # closing with linger 0 passes the reset on
                if data:
                    socks[s].sendall(data)
                else:
                    open_in.discard(s)
                    try:
                        socks[s].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
    except OSError:
        return
    finally:
        up.close()


def main():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    if len(sys.argv) != 3 or sys.argv[1] != "127.0.0.1":
        return 2
    guest = socket.socket(fileno=os.dup(0))
    try:
        relay(guest, sys.argv[1], int(sys.argv[2]))
    finally:
        guest.close()
        os.close(0)
        os.close(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
