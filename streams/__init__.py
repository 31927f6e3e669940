"""Lethe's I/O: the Faust app, topics, codecs, metrics endpoint, CLI and the embedded broker."""
