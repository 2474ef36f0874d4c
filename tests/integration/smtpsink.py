"""An SMTP sink on 127.0.0.1 (aiosmtpd) that keeps every message byte for byte, for qmail-remote."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes  # after dot-unstuffing, lines end in CRLF


@dataclass
class Handler:
    messages: list[Received] = field(default_factory=list)
    reply: str = "250 ok"  # what to answer at the end of DATA

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content))
        return self.reply


class LongLineSMTP(SMTP):
    line_length_limit = 1 << 20  # qmail-remote passes long lines through; don't refuse them


class LongLineController(Controller):
    def factory(self) -> SMTP:
        return LongLineSMTP(self.handler, hostname="sink.patchkit.test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    def __init__(self) -> None:
        self.handler = Handler()
        self.port = free_port()
        self.controller = LongLineController(self.handler, hostname="127.0.0.1", port=self.port,
                                             server_hostname="sink.patchkit.test")

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages
