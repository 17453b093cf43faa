"""Provenance HTTP: the artisan's record, the operators' queue, public labels, pages and QR."""

from __future__ import annotations

import json
import secrets

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, render_template, request
from flask_babel import force_locale

from marketplace.catalog.models import Product
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.geo import COUNTRIES
from marketplace.http import auth_required, current_user, json_body, query_args, responds
from marketplace.i18n import LANGUAGE_NAMES, LANGUAGES, select_locale
from marketplace.provenance import credentials, epcis, labels, pieces, records, transparency
from marketplace.provenance import flags as buyer_flags
from marketplace.provenance.errors import ProvenanceError
from marketplace.provenance.models import ProvenanceLabel
from marketplace.provenance.schemas import (
    ConsistencyProofOut,
    ConsistencyQuery,
    DecisionIn,
    EpcisDocumentOut,
    FlagIn,
    FlagOut,
    FlagPage,
    FlagQuery,
    InclusionProofOut,
    InclusionQuery,
    LabelCredentialOut,
    LabelOut,
    LogEntryOut,
    PageQuery,
    PieceOut,
    PublicKeyOut,
    QueueQuery,
    RecordIn,
    RecordOut,
    RecordPage,
    ResolveFlagIn,
    RevokeIn,
    StatusListCredentialOut,
)
from marketplace.schemas import build

bp = Blueprint("provenance", __name__, url_prefix="/api/v1")
pages = Blueprint("provenance_pages", __name__)
blueprints = [bp, pages]


def _record_out(product_id: str, record=None) -> dict:
    product = db.session.get(Product, product_id)
    return records.record_view(record, product_id=product_id,
                               product_craft=product.craft if product else None)


@bp.get("/products/<product_id>/provenance")
@auth_required("artisan", "operator")
@responds(RecordOut)
def get_record(product_id: str):
    """The product's provenance record and its verification status (its artisan, operators)."""
    record = records.get_record(product_id, user=current_user())
    return _record_out(product_id, record)


@bp.put("/products/<product_id>/provenance")
@auth_required("artisan")
@json_body(RecordIn)
@responds(RecordOut)
def put_record(product_id: str, body: RecordIn):
    """Save the provenance record; editing a verified record revokes its label."""
    record = records.put_record(product_id, body.model_dump(mode="json", exclude_none=True),
                                artisan_id=current_user().id)
    return _record_out(product_id, record)


@bp.post("/products/<product_id>/provenance/submit")
@auth_required("artisan")
@responds(RecordOut)
def submit_record(product_id: str):
    """Submit the record for verification (status pending); 422 names what is missing."""
    record = records.submit_record(product_id, artisan_id=current_user().id)
    return _record_out(product_id, record)


@bp.get("/operator/provenance")
@auth_required("operator")
@query_args(QueueQuery)
@responds(RecordPage)
def queue(query: QueueQuery):
    """The verification queue (``?status=pending`` by default), oldest first."""
    items, next_cursor = records.list_records(query.status, limit=query.limit,
                                              cursor=query.cursor)
    return build(RecordPage, items=items, next_cursor=next_cursor)


@bp.post("/operator/provenance/<product_id>/decision")
@auth_required("operator")
@json_body(DecisionIn)
@responds(RecordOut)
def decide(product_id: str, body: DecisionIn):
    """Approve (issues a signed label at L1 or L2) or reject a pending record."""
    data = body.model_dump(mode="json", exclude_none=True)
    record = records.decide(product_id, operator_id=current_user().id, **data)
    return _record_out(product_id, record)


@bp.post("/operator/provenance/<product_id>/revoke")
@auth_required("operator")
@json_body(RevokeIn)
@responds(RecordOut)
def revoke(product_id: str, body: RevokeIn):
    """Revoke the product's valid label (the code keeps answering: revoked)."""
    labels.revoke_label(product_id, reason=body.reason, operator_id=current_user().id)
    return _record_out(product_id, records.get_record(product_id, user=current_user()))


@bp.get("/operator/provenance/flags")
@auth_required("operator")
@query_args(FlagQuery)
@responds(FlagPage)
def flags(query: FlagQuery):
    """Buyers' flags on labels, oldest first (``?status=open`` by default)."""
    items, next_cursor = buyer_flags.list_flags(query.status, limit=query.limit,
                                                cursor=query.cursor)
    return build(FlagPage, items=items, next_cursor=next_cursor)


@bp.post("/operator/provenance/flags/<flag_id>/resolve")
@auth_required("operator")
@json_body(ResolveFlagIn)
@responds(FlagOut)
def resolve_flag(flag_id: str, body: ResolveFlagIn):
    """Close a flag with a note (revoking the label is a separate action)."""
    flag = buyer_flags.resolve_flag(flag_id, operator_id=current_user().id, note=body.note)
    return buyer_flags.flag_view(flag, db.session.get(ProvenanceLabel, flag.label_id))


@bp.get("/provenance/public-key")
@responds(PublicKeyOut)
def public_key():
    """The marketplace's Ed25519 label keys: the current one and every earlier one."""
    return labels.public_keys()


@bp.get("/provenance/<code>")
@responds(LabelOut)
def label(code: str):
    """A label: the signed object, its signature, and whether it verifies."""
    return labels.public_label(code)


@bp.get("/provenance/<code>/pieces/<serial>")
@responds(PieceOut)
def piece(code: str, serial: str):
    """One piece's hash-chained history and whether the chain verifies."""
    return pieces.piece_history(code, serial)


@bp.get("/provenance/<code>/credential")
@responds(LabelCredentialOut)
def credential(code: str):
    """The label as a W3C Verifiable Credential (VC Data Model 2.0) with an eddsa-jcs-2022
    Data Integrity proof by the label key, and its revocation status list entry."""
    return labels.label_credential(code)


@bp.get("/provenance/status/<list_id>")
@responds(StatusListCredentialOut)
def status_list(list_id: str):
    """A Bitstring Status List credential (purpose revocation), signed; bit i = the label whose
    log index is list_id × 131072 + i."""
    if not (list_id.isascii() and list_id.isdigit() and len(list_id) < 10
            and credentials.status_list_exists(int(list_id))):
        raise NotFound("No such status list.", code=ProvenanceError.STATUS_LIST_NOT_FOUND)
    return credentials.status_list_credential(int(list_id))


@bp.get("/provenance/<code>/pieces/<serial>/epcis")
@responds(EpcisDocumentOut)
def piece_epcis(code: str, serial: str):
    """One piece's history as a GS1 EPCIS 2.0 document (ObjectEvents)."""
    return epcis.epcis_document(pieces.piece_history(code, serial))


@bp.get("/transparency/checkpoint")
@responds(media_types=("text/plain",))
def checkpoint():
    """The latest signed tree head of the transparency log: a C2SP tlog-checkpoint (signed
    note: origin, tree size, base64 root hash, then the Ed25519 signature line)."""
    response = Response(transparency.checkpoint_note(), mimetype="text/plain")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/transparency/key")
@responds(media_types=("text/plain",))
def transparency_key():
    """The log's note verifier key: <name>+<key hash>+<base64 key>."""
    return Response(transparency.verifier_key() + "\n", mimetype="text/plain")


@bp.get("/transparency/entries/<index>")
@responds(LogEntryOut)
def log_entry(index: str):
    """One log entry: its canonical JSON and its leaf hash."""
    if not (index.isascii() and index.isdigit() and len(index) < 16):
        raise NotFound("No log entry at this index.", code=ProvenanceError.LOG_ENTRY_NOT_FOUND)
    return transparency.entry_view(int(index))


@bp.get("/transparency/proof")
@query_args(InclusionQuery)
@responds(InclusionProofOut)
def inclusion_proof(query: InclusionQuery):
    """The inclusion proof of entry ``index`` in the tree of the first ``size`` entries."""
    return transparency.inclusion_view(query.index, query.size)


@bp.get("/transparency/consistency")
@query_args(ConsistencyQuery)
@responds(ConsistencyProofOut)
def consistency_proof(query: ConsistencyQuery):
    """The proof that the tree of ``to`` entries extends the tree of ``from`` entries."""
    return transparency.consistency_view(query.from_, query.to)


@bp.post("/provenance/<code>/flags")
@auth_required()
@json_body(FlagIn)
@responds(FlagOut, 201)
def flag(code: str, body: FlagIn):
    """Ask operators to review a label."""
    flag = buyer_flags.flag_label(code, user_id=current_user().id, reason=body.reason)
    return buyer_flags.flag_view(flag, db.session.get(ProvenanceLabel, flag.label_id)), 201


# Public HTML page and QR code (outside /api/v1) --------------------------------------------------

def _with_policy(response: Response, policy: str) -> Response:
    response.headers["Content-Security-Policy"] = policy
    return response


def _resolve(text, lang: str) -> str:
    if isinstance(text, dict):
        return text.get(lang) or text.get("en") or next(iter(text.values()), "")
    return str(text or "")


@pages.get("/.well-known/did.json")
def did_document():
    """The issuer's did:web document: every label key, current and retired, as a Multikey."""
    response = Response(json.dumps(credentials.did_document(), indent=2),
                        mimetype="application/did+json")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@pages.get("/provenance/<code>.svg")
def label_qr(code: str):
    """The QR code of a label's public page."""
    try:
        view = labels.public_label(code)
    except NotFound:
        return Response("No label with this code.", status=404, mimetype="text/plain")
    image = qrcode.make(view["url"], image_factory=qrcode.image.svg.SvgPathImage, border=4)
    response = Response(image.to_string(encoding="unicode"), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return _with_policy(response, "default-src 'none'; style-src 'unsafe-inline'")


@pages.get("/provenance/<code>")
def label_page(code: str):
    """The page a label's QR code opens: the record, its level and whether it holds."""
    query = PageQuery.model_validate({key: request.args.get(key) for key in request.args
                                      if key in PageQuery.model_fields})
    nonce = secrets.token_urlsafe(16)
    policy = (f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    try:
        view = labels.public_label(code)
    except NotFound:
        html = render_template("provenance/not_found.html", code=code, nonce=nonce)
        return _with_policy(Response(html, status=404, mimetype="text/html"), policy)
    lang = query.lang if query.lang in LANGUAGES else select_locale()
    payload = view["record"] if isinstance(view["record"], dict) else {}
    piece, piece_missing = None, False
    if query.piece:
        try:
            piece = pieces.piece_history(code, query.piece)
        except NotFound:
            piece_missing = True
    checks = pieces.log_checks(code, piece)
    product = payload.get("product") if isinstance(payload.get("product"), dict) else {}
    artisan = payload.get("artisan") if isinstance(payload.get("artisan"), dict) else {}
    with force_locale(lang):
        html = render_template(
            "provenance/label.html", view=view, nonce=nonce, lang=lang, languages=LANGUAGES,
            language_names=LANGUAGE_NAMES,
            record=payload.get("record") if isinstance(payload.get("record"), dict) else {},
            product=product, title=_resolve(product.get("title"), lang), artisan=artisan,
            product_url=f"/products/{view['product_id']}",
            workshop_url=f"/artisans/{artisan['id']}" if artisan.get("id") else None,
            attestation=payload.get("attestation") if isinstance(payload.get("attestation"),
                                                                 dict) else None,
            piece=piece, piece_serial=query.piece, piece_missing=piece_missing, checks=checks,
            country=lambda iso: COUNTRIES.get(str(iso or "").upper(), iso or ""),
        )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return _with_policy(response, policy)
