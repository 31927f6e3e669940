"""Lethe's pure logic: decode, validate, tag and anonymize. No Kafka, Faust, database or HTTP here."""
