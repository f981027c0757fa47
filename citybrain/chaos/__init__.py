"""Fault injection: the parts `make chaos` breaks on purpose (a private PostgreSQL it can stop,
crash points in the workers) and the suite that checks nothing was lost or doubled."""
