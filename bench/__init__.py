"""Benchmarks of the DHIS2 sync against emulated DHIS2 servers on loopback (see README: Benchmarks)."""
