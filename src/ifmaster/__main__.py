"""``python -m ifmaster``."""

from .main import entry

if __name__ == "__main__":
    entry()
