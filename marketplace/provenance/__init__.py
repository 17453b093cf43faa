"""Provenance records, operator verification, signed labels, piece histories.

Modules by seam: ``records`` (the declaration, submission, the operators' decisions),
``labels`` (signing keys, issue, revoke, verify), ``pieces`` (serials and their hash-chained
histories), ``flags`` (buyers asking for a review). What the domains above call is named here.
"""

from marketplace.provenance.labels import (
    label_code_for_product,
    label_codes_for_products,
    summaries_for_products,
    summary_of,
    with_summaries,
)
from marketplace.provenance.pieces import issue_piece_serials, record_piece_event
from marketplace.provenance.records import is_cultural_value

__all__ = ["is_cultural_value", "issue_piece_serials", "label_code_for_product",
           "label_codes_for_products", "record_piece_event", "summaries_for_products",
           "summary_of", "with_summaries"]
