"""Error codes of provenance: records, verification, labels, piece histories, flags."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class ProvenanceError(ErrorCodes):
    RECORD_INVALID = ("provenance.record_invalid",
                      "The record has invalid fields; `errors` says which (422).")
    RECORD_INCOMPLETE = ("provenance.record_incomplete",
                         "The record misses what verification needs; `errors` lists it (422).")
    ALREADY_VERIFIED = ("provenance.already_verified",
                        "The record is verified; change it before sending it again (409).")
    RECORD_CHANGED = ("provenance.record_changed",
                      "The record changed meanwhile; try again (409).")
    NOT_PENDING = "provenance.not_pending", "Only a pending record can be decided (409)."
    DECISION_INVALID = ("provenance.decision_invalid",
                        "The decision, its level or its evidence is not valid (422).")
    UNSIGNABLE = ("provenance.unsignable",
                  "The record holds a value that cannot be signed, such as a float (422).")
    NO_VALID_LABEL = "provenance.no_valid_label", "The product has no valid label (409)."
    LABEL_NOT_FOUND = "provenance.label_not_found", "No label with this code (404)."
    PIECE_NOT_FOUND = ("provenance.piece_not_found",
                       "No piece with this serial (under this label) (404).")
    EVENT_INVALID = ("provenance.event_invalid",
                     "The piece event is unknown or cannot be recorded (422).")
    ALREADY_FLAGGED = ("provenance.already_flagged",
                       "The caller has flagged this label already (409).")
    FLAG_NOT_FOUND = "provenance.flag_not_found", "No such flag (404)."
    FLAG_RESOLVED = "provenance.flag_resolved", "The flag is already resolved (409)."
    LOG_ENTRY_NOT_FOUND = ("provenance.log_entry_not_found",
                           "No transparency log entry at this index (404).")
    LOG_RANGE_INVALID = ("provenance.log_range_invalid",
                         "The index or tree sizes lie outside the transparency log (422).")
    STATUS_LIST_NOT_FOUND = "provenance.status_list_not_found", "No such status list (404)."
