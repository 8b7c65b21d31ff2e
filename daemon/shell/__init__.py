"""The imperative shell: one module per external system. It does I/O and decides nothing."""
