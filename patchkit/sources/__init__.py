"""Upstream inputs: the manifest and its pins, digests, one archive reader, safe unpacking, the
verified cache, downloads."""
