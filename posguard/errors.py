"""The root of posguard's exception tree.

    PosguardError
    ├── model.errors.ModelError
    │   ├── DecodeError            bytes that are not a valid event/incident
    │   └── TimeArgumentError      a time bound that is neither seconds nor microseconds
    ├── store.errors.StoreError
    │   ├── StoreUnavailable       the engine cannot be reached (retry later)
    │   └── QueryError             the engine refused a statement
    ├── streams.errors.StreamsError
    │   └── BrokerError            the Kafka broker cannot be started or reached
    └── console.errors.ConsoleError
        └── SettingsError          a bad flag, variable or config file value

Third-party errors are translated once, at the package boundary that calls the library.
"""


class PosguardError(Exception):
    """Base class of every error posguard raises on purpose."""
