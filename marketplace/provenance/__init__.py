"""Provenance records, operator verification, signed labels, piece histories."""
