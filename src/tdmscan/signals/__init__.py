"""Sans-I/O parsers, one module per protocol: bytes or strings in, frozen dataclasses out.

No network, no clock, no global state, and no exception on hostile input: a malformed input
becomes a recorded parse problem.
"""
