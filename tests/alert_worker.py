"""One alert dispatcher in its own process, until SIGTERM (the crash test SIGKILLs it).

python tests/alert_worker.py DB_URL ALERTS_JSON DATA_DIR HOLDER
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from vigil.events.alerts import AlertsConfig, Dispatcher
from vigil.events.store.store import EventStore
from vigil.stopping import StopOnSignals


def main() -> None:
    url, config, data, holder = sys.argv[1:5]
    stop = threading.Event()
    with StopOnSignals(stop):
        store = EventStore(url)
        alerts = AlertsConfig.model_validate_json(Path(config).read_text())
        dispatcher = Dispatcher(
            store,
            alerts,
            Path(data),
            holder=holder,
            poll_interval=0.02,
            lease_ttl=1.0,
            renew_every=0.3,
        ).start()
        print("started", flush=True)
        stop.wait()
        dispatcher.stop()
        store.dispose()


if __name__ == "__main__":
    main()
