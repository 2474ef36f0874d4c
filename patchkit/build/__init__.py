"""Building a base: the plan (stages as data), the toolchain probe, the local executor and the
libraries' self-tests."""
