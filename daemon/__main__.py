"""``python -m daemon`` runs the same command line as ``gitopsd``."""

from daemon.cli import main

if __name__ == "__main__":
    main()
