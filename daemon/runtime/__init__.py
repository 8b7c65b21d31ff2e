"""The daemon's long-running loops, wired from shell adapters and core decisions."""
