"""What DNS publishes at a key's name: the one module that asks DNS (dnspython), through the
system's resolver or a nameserver given by address and port. A lookup that fails (time-out,
SERVFAIL, no resolver) is an answer of its own, never "missing": only NXDOMAIN and an empty
answer say that nothing is published."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from patchkit.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsSettings:
    nameserver: str | None = None  # None: the system's resolver (/etc/resolv.conf)
    port: int = 53
    timeout: float = 5.0  # for the whole lookup, retries and TCP fallback included

    def __post_init__(self) -> None:
        if self.nameserver is not None:
            try:
                ipaddress.ip_address(self.nameserver)
            except ValueError:
                raise ConfigError(f"--nameserver {self.nameserver!r} is not an IP address",
                                  "give the server's address, e.g. --nameserver 192.0.2.53"
                                  ) from None
        if not 0 < self.port < 65536 or self.timeout <= 0:
            raise ConfigError(f"port {self.port} or timeout {self.timeout} is out of range",
                              "give a port of 1-65535 and a timeout above 0 seconds")

    def describe(self) -> str:
        return (f"nameserver {self.nameserver} port {self.port}" if self.nameserver
                else "the system resolver")


@dataclass(frozen=True, slots=True, kw_only=True)
class TxtAnswer:
    outcome: Literal["answer", "nxdomain", "nodata", "error"]
    texts: tuple[str, ...] = ()  # one per TXT record, its character-strings joined
    detail: str = ""


def _resolver(settings: DnsSettings) -> dns.resolver.Resolver:
    if settings.nameserver is None:
        r = dns.resolver.Resolver()
    else:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [settings.nameserver]
    r.port = settings.port
    r.timeout = r.lifetime = settings.timeout
    r.use_edns(0, 0, 1232)
    return r


def lookup_txt(name: str, settings: DnsSettings) -> TxtAnswer:
    """The TXT records at `name` (absolute: no search domain is appended). dnspython retries
    over TCP when a UDP answer is truncated, as a 4096-bit key's record is."""
    qname = dns.name.from_text(name.rstrip(".") + ".")
    try:
        r = _resolver(settings)
        answer = r.resolve(qname, dns.rdatatype.TXT, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return TxtAnswer(outcome="nxdomain", detail="NXDOMAIN")
    except dns.resolver.NoNameservers as e:
        return TxtAnswer(outcome="error", detail=f"no server answered (SERVFAIL?): {_first(e)}")
    except dns.exception.Timeout:
        return TxtAnswer(outcome="error",
                         detail=f"no answer within {settings.timeout:g} s from "
                                f"{settings.describe()}")
    except dns.resolver.NoResolverConfiguration:
        return TxtAnswer(outcome="error", detail="no resolver configured (/etc/resolv.conf)")
    except dns.exception.DNSException as e:
        return TxtAnswer(outcome="error", detail=f"{type(e).__name__}: {_first(e)}")
    if answer.rrset is None:
        return TxtAnswer(outcome="nodata", detail="no TXT record")
    texts = tuple(b"".join(rr.strings).decode(errors="replace") for rr in answer.rrset)
    return TxtAnswer(outcome="answer", texts=texts)


def _first(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
