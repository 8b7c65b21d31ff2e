"""The pure core: synchronous, deterministic, no I/O, no clock, no logging.

Everything here is a function of its arguments. The shell feeds it facts read from the
event log and carries out the decisions it returns.
"""
