"""The DKIM/DomainKeys behaviour users configure against, as one definition: the DKVERIFY letter
tables (rendered into the C code and the man pages from here) and the render-time options of the
signing code, with their defaults and validation. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patchkit.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    letter: str
    name: str
    description: str
    code: int  # the library's status code this letter stands for


# libdomainkeys' DK_STAT_* values, in order: letter A is DK_STAT_OK (0) ... K is DK_STAT_INTERNAL.
DK_LETTERS: tuple[Letter, ...] = tuple(
    Letter(letter=chr(ord("A") + i), name=name, description=desc, code=i)
    for i, (name, desc) in enumerate((
        ("OK", "the signature verified"),
        ("BADSIG", "a signature was present but did not verify against the domain's key"),
        ("NOSIG", "the message carries no DomainKey-Signature"),
        ("NOKEY", "no public key is published for the selector (permanent)"),
        ("BADKEY", "the published key is unusable"),
        ("CANTVRFY", "the key could not be fetched (temporary DNS failure)"),
        ("SYNTAX", "the message or its signature is malformed"),
        ("NORESOURCE", "out of memory or another resource (temporary)"),
        ("ARGS", "the verifier was called with unusable arguments"),
        ("REVOKED", "the key has been revoked (empty p=)"),
        ("INTERNAL", "internal error in the verifier"),
    ))
)

# libdkim's per-signature and overall results: letter A is DKIM_SUCCESS (0), B..T are the codes
# -1..-19 in order (so the letter's index is minus the code). S and T are RFC 8301's refusals
# (patches/libdkim-1.0.19/0012): the A-R result for them is "policy".
DKIM_LETTERS: tuple[Letter, ...] = tuple(
    Letter(letter=chr(ord("A") + i), name=name, description=desc, code=-i)
    for i, (name, desc) in enumerate((
        ("OK", "a signature verified"),
        ("FAIL", "the message is suspicious"),
        ("BAD_SYNTAX", "a DKIM-Signature could not be parsed or has bad tags"),
        ("SIG BAD", "the RSA signature did not verify"),
        ("SIG BAD (testing)", "the RSA signature did not verify, but the key is in testing mode"),
        ("SIG EXPIRED", "the signature's x= lies in the past"),
        ("SELECTOR INVALID", "the key record does not parse or has invalid values"),
        ("SELECTOR MISMATCH", "the key's g= does not match the signature's i="),
        ("SELECTOR REVOKED", "the key has been revoked (empty p=)"),
        ("DOMAIN TOO LONG", "the selector's domain name is too long to look up"),
        ("DNS TEMP FAIL", "temporary DNS failure looking up the key"),
        ("DNS PERM FAIL", "permanent DNS failure looking up the key (e.g. NXDOMAIN)"),
        ("PUBLIC KEY INVALID", "the key's p= is not a valid public key"),
        ("NO SIG", "the message carries no DKIM-Signature"),
        ("NO VALID SIG", "signatures are present but none verified"),
        ("BAD BODY HASH", "the body does not hash to the signature's bh="),
        ("ALGORITHM MISMATCH", "the key's h= does not allow the signature's algorithm"),
        ("STAT INCOMPAT", "the signature's v= is not supported"),
        ("SHA1 POLICY", "an rsa-sha1 signature, which RFC 8301 says verifiers must not accept"),
        ("KEY TOO SHORT", "an RSA key under 1024 bits, which RFC 8301 says verifiers must not "
                          "accept"),
    ))
)

RECOMMENDED_DKVERIFY = "DEGIJKfh,CGHIJMQRkl"

DEFAULT_SIGN_HEADERS: tuple[str, ...] = (
    "From", "Sender", "Reply-To", "Subject", "Date", "Message-ID", "To", "Cc", "MIME-Version",
    "Content-Type", "Content-Transfer-Encoding", "Content-ID", "Content-Description",
    "Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID",
    "In-Reply-To", "References", "List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe",
    "List-Post", "List-Owner", "List-Archive",
)
NEVER_SIGN = ("received", "return-path", "authentication-results")
DKIM_CANONS = ("relaxed/relaxed", "relaxed/simple", "simple/simple", "simple/relaxed")
DK_CANONS = ("nofws", "simple")


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderOptions:
    dkim_sign: bool = True
    dk_sign: bool = True
    dkim_canon: str = "relaxed/relaxed"
    dk_canon: str = "nofws"
    sign_headers: tuple[str, ...] = field(default=DEFAULT_SIGN_HEADERS)
    authserv_id: str = ""  # empty: control/me at run time

    def validate(self) -> RenderOptions:
        if self.dkim_canon not in DKIM_CANONS:
            raise ConfigError(f"unknown DKIM canonicalization {self.dkim_canon!r}",
                              f"choose one of {', '.join(DKIM_CANONS)}")
        if self.dk_canon not in DK_CANONS:
            raise ConfigError(f"unknown DomainKeys canonicalization {self.dk_canon!r}",
                              f"choose one of {', '.join(DK_CANONS)}")
        bad = [h for h in self.sign_headers if h.lower() in NEVER_SIGN]
        if bad:
            raise ConfigError(f"refusing to sign {', '.join(bad)}",
                              "trace headers change in transit; signing them breaks signatures")
        odd = [h for h in self.sign_headers if not h or not all(33 <= ord(c) <= 126 and c != ":"
                                                                for c in h)]
        if odd or not self.sign_headers:
            raise ConfigError(f"invalid header names in the signed list: {odd}",
                              "give header field names such as From,Subject")
        if not any(h.lower() == "from" for h in self.sign_headers):
            raise ConfigError("the signed header list must include From",
                              "RFC 6376 requires From to be signed")
        if not (self.dkim_sign or self.dk_sign):
            raise ConfigError("both DKIM and DomainKeys signing are off",
                              "enable at least one, or build without --dkim")
        if any(c in self.authserv_id for c in " ;\r\n\t\"\\"):
            raise ConfigError(f"invalid authserv-id {self.authserv_id!r}",
                              "use a host name such as mx.example.com")
        return self

    def argv(self) -> tuple[str, ...]:
        """These options as the command line of patchkit build/render (see plan.Options.argv)."""
        return ("--dkim-sign" if self.dkim_sign else "--no-dkim-sign",
                "--dk-sign" if self.dk_sign else "--no-dk-sign",
                "--dkim-canon", self.dkim_canon,
                "--dk-canon", self.dk_canon, "--sign-headers", ":".join(self.sign_headers),
                "--authserv-id", self.authserv_id)

    def template_vars(self, base: str) -> dict[str, Any]:
        return {
            "base": base,
            "dkim_sign": self.dkim_sign,
            "dk_sign": self.dk_sign,
            "dkim_canon": self.dkim_canon,
            "dk_canon": self.dk_canon,
            "sign_headers": list(self.sign_headers),
            "letters_dk": [(x.letter, x.name, x.description) for x in DK_LETTERS],
            "letters_dkim": [(x.letter, x.name, x.description, x.code) for x in DKIM_LETTERS],
            "authserv_default": self.authserv_id,
            "recommended_dkverify": RECOMMENDED_DKVERIFY,
        }

    def describe(self) -> dict[str, Any]:
        return {"dkim_sign": self.dkim_sign, "dk_sign": self.dk_sign,
                "dkim_canon": self.dkim_canon,
                "dk_canon": self.dk_canon, "sign_headers": list(self.sign_headers),
                "authserv_id": self.authserv_id}
