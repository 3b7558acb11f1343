"""The ledger line reaches the OS before any report of it leaves, whichever connection sends it.

One read's worth of messages is a batch: its ledger lines go to the OS in one write when it
ends. A cancel that session B sends for session A's order is reported to A on A's connection
while B's batch is still running; that report must not leave before the cancel's line.
"""

from __future__ import annotations

import json
from pathlib import Path

from mock_exchange.book import MatchingEngine
from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.fix.codec import FixStreamParser, encode
from mock_exchange.fix.connection import AcceptorConnection
from mock_exchange.fix.session import SessionRegistry, utc_timestamps
from mock_exchange.ledger import Ledger
from mock_exchange.order_entry import FixOrderEntry, OrderEntryListener


class LedgerCheckingTransport:
    """Records, for every write, the ledger's line kinds the file held at that moment."""

    def __init__(self, ledger_path: Path) -> None:
        self._ledger_path = ledger_path
        self.writes: list[tuple[bytes, list[str]]] = []

    def write(self, data: bytes) -> None:
        kinds = [json.loads(line)["kind"] for line in self._ledger_path.read_text().splitlines()]
        self.writes.append((data, kinds))

    def close(self) -> None: ...


def _message(sender: bytes, msg_type: bytes, seq: int, body: list[tuple[int, bytes]]) -> bytes:
    header = [(35, msg_type), (49, sender), (56, b"MOCKEX"), (34, b"%d" % seq), (52, utc_timestamps.now())]
    return encode(header + body)


def _logon(sender: bytes) -> bytes:
    return _message(sender, b"A", 1, [(98, b"0"), (108, b"30"), (141, b"Y")])


def test_a_report_to_another_session_leaves_after_its_ledger_line(tmp_path: Path) -> None:
    config = VenueConfig(
        fix_port=0,
        admin_port=0,
        sessions=(SessionConfig(sender_comp_id="OMS-A"), SessionConfig(sender_comp_id="OMS-B")),
        ledger_path=tmp_path / "ledger.jsonl",
    )
    with Ledger.open(config.ledger_path) as ledger:
        registry = SessionRegistry(config)
        listener = OrderEntryListener(
            FixOrderEntry(MatchingEngine(config, ledger), ledger, registry, route_orphan_reports_to_firm=True)
        )
        transports = {name: LedgerCheckingTransport(config.ledger_path) for name in (b"OMS-A", b"OMS-B")}
        connections = {
            name: AcceptorConnection(
                transport,
                registry,
                listener,
                default_heartbeat_s=30,
                logon_timeout_s=10,
                batch=ledger.deferred_flush,
                before_send=ledger.flush,
            )
            for name, transport in transports.items()
        }
        for name, connection in connections.items():
            connection.data_received(_logon(name))
        instrument = [(55, b"BTC-USD"), (54, b"1"), (38, b"1")]
        order = [(11, b"a-1"), *instrument, (40, b"2"), (44, b"1"), (60, utc_timestamps.now())]
        connections[b"OMS-A"].data_received(_message(b"OMS-A", b"D", 2, order))
        cancel = [(11, b"b-1"), (41, b"a-1"), *instrument, (60, utc_timestamps.now())]
        connections[b"OMS-B"].data_received(_message(b"OMS-B", b"F", 2, cancel))
    data, kinds_then = transports[b"OMS-A"].writes[-1]
    (report,) = FixStreamParser().feed(data)
    assert (report.msg_type, report.get(150), report.get(41)) == (b"8", b"4", b"a-1")
    assert kinds_then[-1] == "cancel", "the cancel's line was in the file when A's report left"
