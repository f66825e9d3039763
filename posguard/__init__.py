"""posguard: watch point-of-sale terminals, catch fraud at the till, search every receipt.

Packages (see docs/architecture.md):
    model/      events, incidents, event types, time helpers, wire codec (no I/O)
    detectors/  pure detector rules and their XML configuration (no I/O)
    ingest/     terminal protocols, listeners, spool, publisher, simulator
    streams/    Kafka topics, the Faust app and agents, the ClickHouse sink
    store/      ClickHouse schema, migrations, writer, search; chDB and HTTP backends
    reports/    report queries and the ODS writer
    scripting/  the documented ActivePOS script API and the script host
    console/    settings, CLI, node runner, HTTP API and web pages
"""

__version__ = "0.1.0"
