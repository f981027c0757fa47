"""Inference backends behind one small interface: in-process torch (`local`) or a server."""
