"""Vigil: safety violations from plant cameras and recorded video."""

import os

# Nothing is downloaded at run time: stop ultralytics from pip-installing missing modules or
# fetching assets when a checkpoint or call would make it.
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

__version__ = "0.1.0"
