"""glibc's own resolver, from Python: res_query() or res_search() through ctypes, the calls libdkim
and libdomainkeys make. Run it inside netns.resolver_argv() to see what the C code would see.

    python resquery.py [--search] [--bufsize N] NAME [TYPE]

prints one JSON object: n (the return value), h_errno (and its name), elapsed seconds, and for a
parseable answer rcode, tc and the TXT records (each a list of character-strings, latin-1)."""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import sys
import time
from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord

H_ERRNO = {0: "NETDB_SUCCESS", 1: "HOST_NOT_FOUND", 2: "TRY_AGAIN", 3: "NO_RECOVERY",
           4: "NO_DATA"}
C_IN = 1


def _libs() -> list[ctypes.CDLL]:
    libs = [ctypes.CDLL("libc.so.6")]
    path = ctypes.util.find_library("resolv")
    if path:
        libs.append(ctypes.CDLL(path))
    return libs


def query(name: str, qtype: str = "TXT", *, search: bool = False,
          bufsize: int = 65536) -> dict[str, Any]:
    fn_name = "res_search" if search else "res_query"
    fn = None
    for lib in _libs():
        for sym in (fn_name, "__" + fn_name):
            fn = getattr(lib, sym, None)
            if fn is not None:
                break
        if fn is not None:
            break
    if fn is None:
        raise RuntimeError(f"{fn_name} not found in libc/libresolv")
    h_errno_location = _libs()[0].__h_errno_location
    h_errno_location.restype = ctypes.POINTER(ctypes.c_int)
    fn.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    fn.restype = ctypes.c_int
    buf = ctypes.create_string_buffer(bufsize)
    t0 = time.monotonic()
    n = fn(name.encode(), C_IN, getattr(QTYPE, qtype), buf, bufsize)
    elapsed = time.monotonic() - t0
    h = h_errno_location()[0]
    out: dict[str, Any] = {"n": n, "h_errno": h, "h_errno_name": H_ERRNO.get(h, str(h)),
                           "elapsed": round(elapsed, 3)}
    if 0 < n <= bufsize:
        rec = DNSRecord.parse(buf.raw[:n])
        out["rcode"] = RCODE.get(rec.header.rcode)
        out["tc"] = bool(rec.header.tc)
        out["txt"] = [[s.decode("latin-1") for s in rr.rdata.data]
                      for rr in rec.rr if rr.rtype == QTYPE.TXT]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--bufsize", type=int, default=65536)
    ap.add_argument("name")
    ap.add_argument("qtype", nargs="?", default="TXT")
    a = ap.parse_args()
    print(json.dumps(query(a.name, a.qtype, search=a.search, bufsize=a.bufsize)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
