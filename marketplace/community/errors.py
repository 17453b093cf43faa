"""Error codes of favourites, reviews, conversations and commissions."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class CommunityError(ErrorCodes):
    PRODUCT_NOT_FOUND = "community.product_not_found", "No such piece to save or ask about (404)."
    LINE_NOT_FOUND = "community.line_not_found", "No such line in one of your orders (404)."
    NOT_DELIVERED = ("community.not_delivered",
                     "A piece can be reviewed once it has been delivered (409).")
    ALREADY_REVIEWED = "community.already_reviewed", "This order line has a review already (409)."
    REVIEW_NOT_FOUND = "community.review_not_found", "No such review (404)."
    ALREADY_REPLIED = "community.already_replied", "The workshop has replied to it already (409)."
    NOT_YOUR_REVIEW = ("community.not_your_review",
                       "Only the workshop that made the piece replies to its review (403).")
    CONVERSATION_NOT_FOUND = ("community.conversation_not_found",
                              "No such conversation, or it is not yours (404).")
    ARTISAN_NOT_FOUND = "community.artisan_not_found", "No such workshop (404)."
    BUYERS_ONLY = ("community.buyers_only",
                   "Only buyers open conversations and ask for commissions (403).")
    COMMISSION_NOT_FOUND = ("community.commission_not_found",
                            "No such commission, or it is not yours (404).")
    COMMISSION_STATE = ("community.commission_state",
                        "The commission is not in a state that allows this (409).")
    REVIEW_PHOTO_LIMIT = ("community.review_photo_limit",
                          "A review has at most 4 photos (409).")
    NOT_YOUR_REVIEW_PHOTOS = ("community.not_your_review_photos",
                              "Only the review's author adds photos to it (403).")
    COUNTERPART_DELETED = ("community.counterpart_deleted",
                           "The other side of the conversation has deleted their account (409).")
