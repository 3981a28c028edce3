"""Vigil: safety violations from plant cameras and recorded video.

This root module is imported before any part of Vigil (``vigil.detector``, ``vigil.streams``,
``vigil.events``, …), so it is the one place every layer may import from without pointing
upwards: it holds only the version and :class:`VigilError`.
"""

import os
import sys

# Nothing is downloaded at run time: stop ultralytics from pip-installing missing modules or
# fetching assets when a checkpoint or call would make it.
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")
# Nor is anything sent: `import openvino` starts OpenVINO's telemetry, which writes a client
# id under ~/intel and forks a process to post usage to Google Analytics from a thread of its
# own. A module set to None cannot be imported, and OpenVINO then uses its built-in stub.
sys.modules.setdefault("openvino_telemetry", None)

__version__ = "0.1.0"


class VigilError(Exception):
    """Something the user gave cannot be used: the message is one line naming the problem.

    Every layer's errors derive from it (ConfigError, CardError, SourceError, EvidenceError,
    …); the command line prints the message and exits with :attr:`exit_code`, once, in
    ``vigil.cli.main``.

    >>> class PolygonError(VigilError):
    ...     pass
    >>> PolygonError("zone 'pit': needs 3 points").exit_code
    2
    """

    exit_code: int = 2
