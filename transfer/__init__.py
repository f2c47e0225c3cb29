"""pegasus-transfer and pegasus-integrity: multi-protocol copier and sha256 integrity.

The core is standard library only; each protocol's library is imported only when a URL of
that scheme is used.
"""
