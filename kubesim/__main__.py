"""``python -m kubesim`` serves the emulator; the same command line as ``gitopsd sim``."""

from kubesim import cli

if __name__ == "__main__":
    cli.main(prog_name="python -m kubesim")
