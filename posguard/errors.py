"""The root of posguard's exception tree.

    PosguardError
    ├── model.errors.ModelError
    │   ├── DecodeError            bytes that are not a valid event/incident/receipt
    │   └── TimeArgumentError      a time bound that is neither seconds nor microseconds
    ├── detectors.errors.DetectorError
    │   ├── ConfigError            a detector configuration refused (line and reason)
    │   └── StateError             detector state bytes that do not decode
    ├── ingest.errors.IngestError
    │   ├── FieldError             a terminal field that does not parse (also a ValueError)
    │   ├── RegistryError          a bad terminal registry / [ingest] table
    │   │   ├── TerminalExists     a terminal added twice
    │   │   └── UnknownTerminal    no terminal with that GUID
    │   ├── DefinitionError        a bad printer transaction definition
    │   └── SpoolError             the local spool cannot be written or read
    │       └── SpoolFull          the spool is at its size cap: new input is refused
    ├── store.errors.StoreError
    │   ├── StoreUnavailable       the engine cannot be reached (retry later)
    │   ├── QueryError             the engine refused a statement
    │   │   └── sql_access: SqlRefused, SqlLimitExceeded, SqlFailed
    │   ├── StoreConfigError       a store setting that cannot be used
    │   └── ClusterDDLError        a statement that cannot be made cluster DDL
    ├── streams.errors.StreamsError
    │   ├── BrokerError            the Kafka broker cannot be started or reached
    │   └── KafkaConfigError       a Kafka client setting (TLS/SASL) that cannot be used
    ├── reports.errors.ReportError
    │   ├── UnknownReportType, ReportWriteError, ReportOutputError
    ├── scripting.errors.ScriptingError
    │   ├── ScriptLoadError        a script that cannot be loaded
    │   └── ScriptApiError         an API call with wrong arguments (also a TypeError)
    └── console.errors.ConsoleError
        ├── SettingsError          a bad flag, variable or config file value
        └── ApiError               the node's API refused a request or is unreachable

Third-party errors are translated once, at the package boundary that calls the library.
"""


class PosguardError(Exception):
    """Base class of every error posguard raises on purpose."""
