"""Lab tooling for the demo and the tests: a real Asterisk 22 in a chroot, simulated callers."""
