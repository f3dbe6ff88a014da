"""if-master: run a command only on the node that holds the floating IP."""

__version__ = "0.1.0"
