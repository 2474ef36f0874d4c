"""An authoritative test DNS server (dnslib) on a loopback address, UDP and TCP, in background
threads, with a behaviour per name: TXT answer, NXDOMAIN, SERVFAIL or no answer at all.

    with DNSServer() as dns:
        dns.txt("sel._domainkey.example.org", dkim_txt(key))   # str: split into <=255 bytes
        dns.txt("x.example.org", ["part one", "part two"])     # character-strings as given
        dns.nxdomain("gone.example.org"); dns.servfail("broken.example.org")
        dns.drop("slow.example.org")                           # client times out
        ... run programs with netns.resolver_argv(argv, dns.resolv_conf(tmp_path)) ...
        assert dns.seen("sel._domainkey.example.org", transport="tcp")

Names not configured get NXDOMAIN (or `default`). A name that has a behaviour but is asked for
another type gets NOERROR with no answer (NODATA). UDP answers larger than 512 bytes (or the
client's EDNS0 size) go out as an otherwise empty reply with TC set and the question kept: dnslib's
own truncate() drops the question and glibc then rejects the reply instead of retrying over TCP.
"""

from __future__ import annotations

import errno
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dnslib import EDNS0, QTYPE, RCODE, RR, TXT, DNSHeader, DNSRecord
from netns import write_resolv_conf

Kind = Literal["txt", "nxdomain", "servfail", "drop"]
Transport = Literal["udp", "tcp"]
TxtRecord = str | bytes | Sequence[str | bytes]

UDP_LIMIT = 512
EDNS_SIZE = 1232  # what we advertise back to EDNS0 clients


def split255(value: str | bytes) -> list[bytes]:
    """Split a TXT value into <=255-byte character-strings (an empty value is one empty string)."""
    data = value.encode() if isinstance(value, str) else value
    return [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]


def _strings(record: TxtRecord) -> tuple[bytes, ...]:
    if isinstance(record, str | bytes):
        return tuple(split255(record))
    out = tuple(s.encode() if isinstance(s, str) else bytes(s) for s in record)
    for s in out:
        if len(s) > 255:
            raise ValueError(f"TXT character-string of {len(s)} bytes (max 255): {s[:40]!r}...")
    return out


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


@dataclass(frozen=True)
class Behaviour:
    kind: Kind
    records: tuple[tuple[bytes, ...], ...] = ()  # for "txt": one tuple of strings per TXT RR


@dataclass(frozen=True)
class Query:
    name: str  # lower case, no trailing dot
    qtype: str  # "TXT", "A", ...
    transport: Transport
    edns: int | None  # the client's EDNS0 UDP size, None without EDNS0


class _UDP(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = False  # on Linux SO_REUSEADDR would let two UDP servers share a port
    dns: DNSServer


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True  # TIME_WAIT only; a live listener still makes bind() fail
    dns: DNSServer


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDP

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.dns.answer(data, "udp")
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCP

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(30)
        try:
            while True:
                head = _recv_exact(conn, 2)
                if head is None:
                    return
                data = _recv_exact(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                reply = self.server.dns.answer(data, "tcp")
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _candidates() -> list[str]:
    third = 1 + os.getpid() % 250
    return [f"127.53.{third}.{i}" for i in range(1, 40)] + [f"127.54.0.{i}" for i in range(1, 40)]


@dataclass
class DNSServer:
    """Authoritative server for whatever names a test configures. `host=None` picks a free
    127.53.x.y address; port 53 needs root (resolv.conf cannot name another port)."""

    host: str | None = None
    port: int = 53
    default: Kind = "nxdomain"
    ttl: int = 60
    queries: list[Query] = field(default_factory=list, init=False)  # every query, in order
    _names: dict[str, Behaviour] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _servers: list[socketserver.BaseServer] = field(default_factory=list, init=False,
                                                    repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False, repr=False)

    # --- behaviour per name ---------------------------------------------------------------
    def txt(self, name: str, *records: TxtRecord) -> None:
        """Answer TXT queries for `name` with one TXT RR per argument: a str/bytes is split into
        <=255-byte character-strings, a sequence is taken as the character-strings."""
        if not records:
            raise ValueError("txt() needs at least one record")
        self._set(name, Behaviour("txt", tuple(_strings(r) for r in records)))

    def nxdomain(self, name: str) -> None:
        self._set(name, Behaviour("nxdomain"))

    def servfail(self, name: str) -> None:
        self._set(name, Behaviour("servfail"))

    def drop(self, name: str) -> None:
        """Never answer queries for `name` (UDP or TCP): the client times out."""
        self._set(name, Behaviour("drop"))

    def forget(self, name: str) -> None:
        with self._lock:
            self._names.pop(_norm(name), None)

    def _set(self, name: str, b: Behaviour) -> None:
        with self._lock:
            self._names[_norm(name)] = b

    # --- what was asked ------------------------------------------------------------------
    def seen(self, name: str, qtype: str = "TXT",
             transport: Transport | None = None) -> list[Query]:
        n = _norm(name)
        with self._lock:
            return [q for q in self.queries if q.name == n and q.qtype == qtype
                    and (transport is None or q.transport == transport)]

    def clear(self) -> None:
        with self._lock:
            self.queries.clear()

    # --- the protocol --------------------------------------------------------------------
    def answer(self, data: bytes, transport: Transport) -> bytes | None:
        """The reply to one wire-format query, or None to stay silent."""
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None  # not DNS: ignore, like a real server would (mostly)
        if not req.questions:
            return None
        q = req.q
        name, qtype = _norm(str(q.qname)), QTYPE.get(q.qtype, str(q.qtype))
        edns = next((int(r.rclass) for r in req.ar if r.rtype == QTYPE.OPT), None)
        with self._lock:
            self.queries.append(Query(name, str(qtype), transport, edns))
            b = self._names.get(name, Behaviour(self.default))
        if b.kind == "drop":
            return None
        reply = req.reply(ra=1, aa=1)
        if edns is not None:
            reply.add_ar(EDNS0(udp_len=EDNS_SIZE))
        if b.kind == "nxdomain":
            reply.header.rcode = RCODE.NXDOMAIN
        elif b.kind == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            reply.header.aa = 0
        elif q.qtype == QTYPE.TXT:
            for strings in b.records:
                reply.add_answer(RR(q.qname, QTYPE.TXT, ttl=self.ttl, rdata=TXT(list(strings))))
        wire: bytes = reply.pack()
        limit = max(UDP_LIMIT, edns or 0)
        if transport == "udp" and len(wire) > limit:
            tc = DNSRecord(DNSHeader(id=req.header.id, qr=1, aa=1, ra=1, rd=req.header.rd, tc=1),
                           q=q)
            if edns is not None:
                tc.add_ar(EDNS0(udp_len=EDNS_SIZE))
            wire = tc.pack()
        return wire

    # --- life cycle ----------------------------------------------------------------------
    @property
    def address(self) -> str:
        if self.host is None:
            raise RuntimeError("DNSServer not started")
        return self.host

    def start(self) -> DNSServer:
        hosts = [self.host] if self.host else _candidates()
        last: OSError | None = None
        for host in hosts:
            try:
                self._bind(host)
            except OSError as e:
                if e.errno == errno.EACCES:
                    raise PermissionError(
                        f"binding {host}:{self.port} needs root (or CAP_NET_BIND_SERVICE)") from e
                if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                    raise
                last = e
                continue
            self.host = host
            for srv in self._servers:
                t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                     name=f"dns-{host}", daemon=True)
                t.start()
                self._threads.append(t)
            return self
        raise OSError(f"no free loopback address for the test DNS server ({hosts[0]}..."
                      f"{hosts[-1]} port {self.port}): {last}")

    def _bind(self, host: str) -> None:
        udp = _UDP((host, self.port), _UDPHandler)
        try:
            port = udp.server_address[1]
            tcp = _TCP((host, port), _TCPHandler)
        except OSError:
            udp.server_close()
            raise
        udp.dns = tcp.dns = self
        self.port = int(port)
        self._servers = [udp, tcp]

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> DNSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def resolv_conf(self, directory: Path, *, timeout: int = 1, attempts: int = 1) -> Path:
        """Write DIRECTORY/resolv.conf pointing at this server (port 53 only: resolv.conf cannot
        name a port) and return its path."""
        if self.port != 53:
            raise ValueError(f"resolv.conf cannot point at port {self.port}")
        return write_resolv_conf(directory / "resolv.conf", self.address, timeout=timeout,
                                 attempts=attempts)
