"""A small authoritative DNS server on loopback (UDP, dnspython's wire format) answering from a dict
of records, for `paperboy doctor`'s mail DNS checks through PAPERBOY_DNS_RESOLVER."""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    """Answers (name, type) from `records`, e.g. {("example.org", "TXT"): ['"v=spf1 -all"']};
    a known name asked for another type gets no answer, an unknown name NXDOMAIN."""

    def __init__(self, records: dict[tuple[str, str], list[str]]):
        self.records = {(name.lower().rstrip("."), kind): values for (name, kind), values in records.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        """PAPERBOY_DNS_RESOLVER for this server."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                data, client = self.sock.recvfrom(4096)
            except OSError:  # closed
                return
            query = dns.message.from_wire(data)
            self.sock.sendto(self._answer(query).to_wire(), client)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        kind = dns.rdatatype.to_text(question.rdtype)
        values = self.records.get((name, kind))
        if values:
            response.answer.append(dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, kind, values))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response
