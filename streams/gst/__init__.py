"""Scripts run by Debian's /usr/bin/python3 (GStreamer's GObject bindings), not imported here."""
