"""What the community keeps of a person whose account is deleted (the ``account.deleted``
reaction, run in the deleting transaction).

A conversation is the correspondence of two people. Article 17 GDPR gives the person who left
the right to have their personal data erased; it does not take from the workshop (or the buyer)
on the other side the record of what they were asked, offered and promised (Art. 17(3)(e): the
other party may need it to establish or defend a claim about an order or a commission). So:

- the **bodies** of the messages the person wrote are kept for the other party, but every
  e-mail address and telephone number in them (and in conversation subjects and commission
  descriptions they wrote) is replaced by ``[removed]``: the ways to reach the person go;
- their **name** goes: pages and the API show "Deleted account" for a deleted buyer or workshop
  (``display_name``), since the account row itself has no name left;
- their **reviews** stay (a piece's average must not change under other buyers' feet) but the
  author's first name becomes the anonymous "Buyer" and their photos (pictures of their home,
  perhaps their face) are removed, files included.
"""

from __future__ import annotations

import re

import phonenumbers
from flask_babel import gettext
from sqlalchemy import select, update

from marketplace.accounts.models import Role, User
from marketplace.community import reviews
from marketplace.community.models import Commission, Conversation, Message, Review
from marketplace.extensions import db

REMOVED = "[removed]"
ANONYMOUS_REVIEWER = "Buyer"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# An international number however it is written: "+7 701 234 56 78", "+49 (30) 1234-567".
_INTERNATIONAL = re.compile(r"\+\d[\d\s().-]{6,}\d")


def scrub_contacts(text: str, region: str | None = None) -> str:
    """``text`` without e-mail addresses and telephone numbers (international ones, and the
    valid national numbers of ``region``, the person's country)."""
    if not text:
        return text
    text = _EMAIL.sub(REMOVED, text)
    text = _INTERNATIONAL.sub(REMOVED, text)
    spans = [(match.start, match.end) for match in phonenumbers.PhoneNumberMatcher(
        text, (region or "KZ").upper(), leniency=phonenumbers.Leniency.VALID)]
    for start, end in reversed(spans):
        text = text[:start] + REMOVED + text[end:]
    return text


def on_account_deleted(payload: dict) -> None:
    """Reaction to ``account.deleted``: the person's messages lose their contact details, their
    reviews their name (see the module's docstring for what is kept and why)."""
    user = db.session.get(User, payload["user_id"])
    if user is None:
        return
    region = user.country
    for message in db.session.execute(
            select(Message).where(Message.sender_id == user.id)).scalars():
        message.body = scrub_contacts(message.body, region)
    for conversation in db.session.execute(select(Conversation).where(
            Conversation.buyer_id == user.id)).scalars():  # the buyer writes the subject
        conversation.subject = scrub_contacts(conversation.subject, region)
    for commission in db.session.execute(
            select(Commission).where(Commission.buyer_id == user.id)).scalars():
        commission.description = scrub_contacts(commission.description, region)
    for review in db.session.execute(select(Review).where(Review.author_id == user.id)).scalars():
        review.text = scrub_contacts(review.text, region)
    db.session.execute(update(Review).where(Review.author_id == user.id)
                       .values(author_name=ANONYMOUS_REVIEWER)
                       .execution_options(synchronize_session=False))
    db.session.flush()
    reviews.drop_photos_of(user.id)  # the files go after the commit


def display_names(user_ids: set[str]) -> dict[str, str]:
    """The names conversations show for these users, in one query: a buyer's first name, a
    workshop owner's full name, and "Deleted account" (in the reader's language) for an account
    that was deleted."""
    if not user_ids:
        return {}
    names = {}
    for user_id, name, role, deleted_at in db.session.execute(
            select(User.id, User.name, User.role, User.deleted_at).where(User.id.in_(user_ids))):
        if deleted_at is not None:
            names[user_id] = gettext("Deleted account")
        elif role == Role.BUYER:
            names[user_id] = (name or "").split(" ")[0]
        else:
            names[user_id] = name or ""
    return names
