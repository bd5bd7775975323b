"""A mail server on 127.0.0.1 for tests and benchmarks, with the faults the outbox must survive.

Modes: "ok" (answers, keeps each message), "hang" (accepts the connection and never answers) and
"slow" (answers every command `delay` seconds late). A closed port stands for a refused server:
`SmtpServer.refusing_port()`. Only the SMTP a Django backend speaks: EHLO/HELO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpServer:
    mode: str = "ok"
    delay: float = 0.0
    port: int = 0  # 0: any free port; a given one to come back where a failed server was
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                server._converse(self.rfile, self.wfile, self.connection)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._tcp = socketserver.ThreadingTCPServer((HOST, self.port), Handler)
        self._tcp.daemon_threads = True
        self._stop = threading.Event()
        self.port = self._tcp.server_address[1]
        # A short poll: close() waits for the loop to notice the shutdown (0.5 s by default).
        threading.Thread(target=self._tcp.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._tcp.shutdown()
        self._tcp.server_close()

    def __enter__(self) -> SmtpServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def refusing_port() -> int:
        """A port on 127.0.0.1 with nothing listening: connecting is refused at once."""
        with socket.socket() as s:
            s.bind((HOST, 0))
            return s.getsockname()[1]

    def _say(self, wfile, line: str) -> None:
        if self.mode == "slow" and self.delay:
            time.sleep(self.delay)  # the benchmark's slow server; tests use "ok" or "hang"
        wfile.write(line.encode() + b"\r\n")
        wfile.flush()

    def _converse(self, rfile, wfile, connection) -> None:
        if self.mode == "hang":
            self._stop.wait()  # accepted, never a word: the client's timeout is what ends it
            return
        self._say(wfile, "220 localhost ESMTP test")
        sender, recipients = "", []
        while line := rfile.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._say(wfile, "250 localhost")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(), []
                self._say(wfile, "250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip())
                self._say(wfile, "250 OK")
            elif verb == "DATA":
                self._say(wfile, "354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (chunk := rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.received.append(Received(sender=sender, recipients=recipients, data=data))
                self._say(wfile, "250 OK queued")
            elif verb == "QUIT":
                self._say(wfile, "221 Bye")
                return
            else:  # RSET, NOOP
                self._say(wfile, "250 OK")
