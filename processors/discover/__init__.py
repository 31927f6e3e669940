"""``lethe discover``, the pure part: sampled records in, a proposed schema, policy stanza and report out."""
