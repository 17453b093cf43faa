"""Provenance request and response models.

The record is saved as a draft with any subset of fields; ``records.missing_fields`` says what
a submission still needs. Numbers are integers only (hours, percent, fineness in parts per
thousand), so that the signed canonical JSON never carries a float.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from marketplace.catalog.models import Craft
from marketplace.geo import COUNTRIES
from marketplace.provenance.models import FlagStatus, LabelStatus, Level
from marketplace.schemas import Day, JsonValue, OutModel, TextOut, Timestamp


def _printable(value: str) -> str:
    if any(ord(char) < 32 and char not in "\n\t" for char in value):
        raise ValueError("control characters are not allowed")
    return value


def _country(value: str) -> str:
    value = value.upper()
    if value not in COUNTRIES:
        raise ValueError("unknown ISO 3166-1 country code")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(_printable)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                 AfterValidator(_printable)]
Country = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2),
                    AfterValidator(_country)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000,
                                       pattern=r"^https?://[^\s]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Place(_In):
    city: Name | None = None
    region: Name | None = None
    country: Country | None = None


class Maker(_In):
    name: Name
    kind: Literal["artisan", "workshop_team", "collective", "production_partner"]
    role: Name | None = None  # what they did: "master", "felting", "engraving", ...
    place: Place | None = None


class MaterialOrigin(_In):
    country: Country | None = None
    region: Name | None = None
    source: Name | None = None  # supplier, mine, farm


class Material(_In):
    name: Name
    origin: MaterialOrigin | None = None
    precious_metal: bool = False
    fineness: int | None = Field(default=None, ge=1, le=1000)  # parts per thousand: 925
    hallmark: Name | None = None


class Dye(_In):
    name: Name
    kind: Literal["natural", "synthetic"]
    source: Name | None = None


class Making(_In):
    availability: Literal["made_to_order", "ready"] | None = None
    started_on: date | None = None
    finished_on: date | None = None
    hours: int | None = Field(default=None, ge=0, le=100_000)


class Design(_In):
    origin: Literal["traditional", "named", "original"] | None = None
    motif: Name | None = None
    designer: Name | None = None


class LineageLink(_In):
    master: Name
    apprentice: Name
    since_year: int | None = Field(default=None, ge=1800, le=2100)


class Certification(_In):
    scheme: Name
    issuer: Name
    reference: Name
    valid_until: date | None = None


class RecordIn(_In):
    """The provenance record an artisan declares for a product."""

    makers: list[Maker] = Field(default_factory=list, max_length=20)
    place: Place | None = None
    craft: Craft | None = None
    techniques: list[Name] = Field(default_factory=list, max_length=20)
    materials: list[Material] = Field(default_factory=list, max_length=30)
    dyes: list[Dye] = Field(default_factory=list, max_length=20)
    when: Making | None = None
    hand_work_share: int | None = Field(default=None, ge=0, le=100)  # percent
    design: Design | None = None
    lineage: list[LineageLink] = Field(default_factory=list, max_length=10)
    certifications: list[Certification] = Field(default_factory=list, max_length=10)
    cultural_value: bool = False  # export needs a permit


class Evidence(_In):
    type: Literal["identity", "studio_visit", "work_in_progress", "material_receipt",
                  "third_party_attestation", "other"]
    note: Note
    url: Url | None = None


class Attestation(_In):
    scheme: Name  # guild, UNESCO award, fair-trade body, geographical indication
    issuer: Name
    reference: Name
    url: Url | None = None
    valid_until: date | None = None


class DecisionIn(_In):
    decision: Literal["approve", "reject"]
    level: Literal["L1", "L2"] | None = None  # approve defaults to L1
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    note: Note | None = None
    attestation: Attestation | None = None


class RevokeIn(_In):
    reason: Note


class FlagIn(_In):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                             max_length=2000), AfterValidator(_printable)]


class ResolveFlagIn(_In):
    note: Note | None = None


class QueueQuery(_In):
    status: Literal["draft", "pending", "valid", "rejected", "revoked"] = "pending"
    limit: int = Field(default=24, ge=1, le=100)
    cursor: str | None = None


class FlagQuery(_In):
    status: Literal["open", "resolved"] = "open"
    limit: int = Field(default=24, ge=1, le=100)
    cursor: str | None = None


class PageQuery(BaseModel):
    lang: str | None = None
    piece: str | None = None


# Responses: views serialise through these (marketplace.http.responds). A stored record keeps
# only the fields that were given (``exclude_none``), so every field of it may be absent.

class PlaceOut(OutModel):
    city: str = Field(None)
    region: str = Field(None)
    country: str = Field(None)


class MakerOut(OutModel):
    name: str
    kind: Literal["artisan", "workshop_team", "collective", "production_partner"]
    role: str = Field(None)
    place: PlaceOut = Field(None)


class MaterialOriginOut(OutModel):
    country: str = Field(None)
    region: str = Field(None)
    source: str = Field(None)


class MaterialOut(OutModel):
    name: str
    origin: MaterialOriginOut = Field(None)
    precious_metal: bool
    fineness: int = Field(None, description="Parts per thousand: 925.")
    hallmark: str = Field(None)


class DyeOut(OutModel):
    name: str
    kind: Literal["natural", "synthetic"]
    source: str = Field(None)


class MakingOut(OutModel):
    availability: Literal["made_to_order", "ready"] = Field(None)
    started_on: Day = Field(None)
    finished_on: Day = Field(None)
    hours: int = Field(None)


class DesignOut(OutModel):
    origin: Literal["traditional", "named", "original"] = Field(None)
    motif: str = Field(None)
    designer: str = Field(None)


class LineageLinkOut(OutModel):
    master: str
    apprentice: str
    since_year: int = Field(None)


class CertificationOut(OutModel):
    scheme: str
    issuer: str
    reference: str
    valid_until: Day = Field(None)


class RecordDataOut(OutModel):
    """The provenance record as declared (see RecordIn); empty until the first save."""

    makers: list[MakerOut] = Field(None)
    place: PlaceOut = Field(None)
    craft: Craft = Field(None, strict=False)
    techniques: list[str] = Field(None)
    materials: list[MaterialOut] = Field(None)
    dyes: list[DyeOut] = Field(None)
    when: MakingOut = Field(None)
    hand_work_share: int = Field(None, description="Percent.")
    design: DesignOut = Field(None)
    lineage: list[LineageLinkOut] = Field(None)
    certifications: list[CertificationOut] = Field(None)
    cultural_value: bool = Field(None, description="Export needs a permit.")


RecordState = Literal["none", "draft", "pending", "valid", "rejected", "revoked"]


class RecordOut(OutModel):
    product_id: str
    status: RecordState = Field(description="none: nothing declared yet.")
    level: Level = Field(strict=False)
    record: RecordDataOut
    missing: dict[str, list[str]] = Field(
        description="Field → what a submission still needs there.")
    label_code: str | None
    label_url: str | None
    submitted_at: Timestamp | None
    updated_at: Timestamp | None


class QueueProductOut(OutModel):
    id: str
    title: TextOut
    craft: Craft = Field(strict=False)


class LabelArtisanOut(OutModel):
    id: str
    name: str
    workshop: str | None


class QueuedRecordOut(RecordOut):
    product: QueueProductOut
    artisan: LabelArtisanOut
    status_changed_at: Timestamp


class RecordPage(OutModel):
    items: list[QueuedRecordOut]
    next_cursor: str | None


class AttestationOut(OutModel):
    scheme: str
    issuer: str
    reference: str
    url: str = Field(None)
    valid_until: Day = Field(None)


class LabelPayloadOut(OutModel):
    """The signed object."""

    code: str
    key_id: str
    level: Literal["L1", "L2"]
    issued_at: Timestamp
    issuer: str
    record: RecordDataOut
    product: QueueProductOut
    artisan: LabelArtisanOut
    attestation: AttestationOut | None


class LabelOut(OutModel):
    code: str
    record: LabelPayloadOut | JsonValue = Field(
        union_mode="left_to_right",
        description="Exactly the signed object (LabelPayloadOut). A row altered after signing "
                    "is shown as it is stored, and then `valid` is false.")
    canonical: str = Field(description="The signed bytes: canonical JSON of `record`, UTF-8.")
    signature: str = Field(description="Base64 Ed25519 signature over `canonical`.")
    key_id: str
    public_key: str | None = Field(description="Base64 of the raw 32-byte key.")
    algorithm: Literal["Ed25519"]
    valid: bool = Field(description="Trust it now: the signature holds and the label is "
                                    "neither revoked nor superseded.")
    signature_valid: bool = Field(description="The signature holds over the stored record "
                                              "(the cryptographic check alone).")
    status: LabelStatus = Field(strict=False)
    level: str
    product_id: str
    issued_at: Timestamp | None
    url: str
    qr_url: str
    credential_url: str = Field(description="The label as a W3C Verifiable Credential.")
    log_index: int | None = Field(description="The issuance's entry in the transparency log "
                                              "(also the label's bit in its status list).")
    revoked_at: Timestamp | None = Field(None, description="Only when revoked.")
    revoked_reason: str | None = Field(None, description="Only when revoked.")
    superseded_by: str = Field(None, description="The product's newer valid label, if any.")


class SigningKeyOut(OutModel):
    key_id: str
    public_key: str
    created_at: Timestamp | None
    retired_at: Timestamp = Field(None, description="Only for a key that no longer signs.")


class PublicKeyOut(OutModel):
    key_id: str = Field(description="The key that signs new labels.")
    public_key: str
    algorithm: Literal["Ed25519"]
    keys: list[SigningKeyOut]


class PieceEventDataOut(OutModel):
    """What the marketplace's own events record; which keys depends on the event type."""

    label_code: str = Field(None, description="made, verified, sold")
    level: str = Field(None, description="verified")
    key_id: str = Field(None, description="verified")
    label_sha256: str = Field(None, description="verified: sha256 of the signed label bytes")
    weight_g: int = Field(None, description="packed")
    carrier: str = Field(None, description="shipped")
    tracking_number: str | None = Field(None, description="shipped, delivered, returned")


class PieceEventOut(OutModel):
    seq: int
    event_type: str = Field(description="made, verified, sold, packed, shipped, delivered or "
                                        "returned.")
    time: Timestamp
    place: PlaceOut | JsonValue = Field(union_mode="left_to_right",
                                        description="Where it happened (PlaceOut), or null.")
    data: PieceEventDataOut | JsonValue = Field(
        union_mode="left_to_right",
        description="What the event records (PieceEventDataOut for the marketplace's own "
                    "events), hashed into the chain as stored.")
    prev_hash: str
    hash: str
    log_index: int | None = Field(description="The event's entry in the transparency log.")


class PieceOut(OutModel):
    serial: str
    code: str
    product_id: str
    number: int
    events: list[PieceEventOut]
    head_hash: str | None
    verifies: bool
    url: str


class FlagOut(OutModel):
    id: str
    label_code: str
    product_id: str
    label_status: LabelStatus = Field(strict=False)
    reason: str
    status: FlagStatus = Field(strict=False)
    user_id: str
    created_at: Timestamp
    resolved_at: Timestamp | None = Field(None, description="Only when resolved.")
    resolution_note: str | None = Field(None, description="Only when resolved.")


class FlagPage(OutModel):
    items: list[FlagOut]
    next_cursor: str | None


# Verifiable credentials, the DID document, the transparency log, EPCIS --------------------------

class _LdOut(OutModel):
    """JSON-LD keys such as ``@context`` are aliases of plain field names."""

    model_config = ConfigDict(extra="forbid", strict=True, serialize_by_alias=True,
                              validate_by_alias=True, validate_by_name=True)


class DataIntegrityProofOut(_LdOut):
    context: list[str] = Field(alias="@context")
    type: Literal["DataIntegrityProof"]
    cryptosuite: Literal["eddsa-jcs-2022"]
    created: Timestamp
    verificationMethod: str = Field(description="<issuer DID>#<key_id>, a Multikey in the DID "
                                                "document.")
    proofPurpose: Literal["assertionMethod"]
    proofValue: str = Field(description="Multibase base58btc Ed25519 signature.")


class CredentialStatusOut(_LdOut):
    id: str
    type: Literal["BitstringStatusListEntry"]
    statusPurpose: Literal["revocation"]
    statusListIndex: str
    statusListCredential: str


class CredentialSubjectOut(_LdOut):
    id: str = Field(description="The product's public URL.")
    code: str = Field(None)
    level: str = Field(None)
    product: QueueProductOut | JsonValue = Field(None, union_mode="left_to_right")
    artisan: LabelArtisanOut | JsonValue = Field(None, union_mode="left_to_right")
    record: RecordDataOut | JsonValue = Field(None, union_mode="left_to_right")
    attestation: AttestationOut | JsonValue = Field(None, union_mode="left_to_right")
    labelSha256: str = Field(description="SHA-256 (hex) of the label's signed bytes.")


class LabelCredentialOut(_LdOut):
    """A W3C Verifiable Credential (VC Data Model 2.0) secured with eddsa-jcs-2022."""

    context: list[str] = Field(alias="@context")
    id: str
    type: list[str]
    name: str
    issuer: str = Field(description="did:web of the marketplace's public host.")
    validFrom: Timestamp
    credentialSubject: CredentialSubjectOut
    credentialStatus: CredentialStatusOut
    proof: DataIntegrityProofOut


class StatusListSubjectOut(_LdOut):
    id: str
    type: Literal["BitstringStatusList"]
    statusPurpose: Literal["revocation"]
    encodedList: str = Field(description="Multibase base64url of the GZIP of the bitstring.")


class StatusListCredentialOut(_LdOut):
    context: list[str] = Field(alias="@context")
    id: str
    type: list[str]
    issuer: str
    validFrom: Timestamp
    credentialSubject: StatusListSubjectOut
    proof: DataIntegrityProofOut


class LogEntryOut(OutModel):
    index: int
    entry: str = Field(description="The entry: canonical JSON (RFC 8785), UTF-8.")
    leaf_hash: str = Field(description="Base64 of SHA-256(0x00 || entry).")


class InclusionQuery(_In):
    index: int = Field(ge=0, le=2**53)
    size: int = Field(ge=1, le=2**53)


class InclusionProofOut(OutModel):
    index: int
    size: int
    leaf_hash: str
    root_hash: str = Field(description="Base64 root of the tree of `size` entries.")
    hashes: list[str] = Field(description="Base64 audit path, nearest the leaf first "
                                          "(RFC 9162 2.1.3).")


class ConsistencyQuery(_In):
    from_: int = Field(alias="from", ge=0, le=2**53)
    to: int = Field(ge=0, le=2**53)


class ConsistencyProofOut(_LdOut):
    from_: int = Field(alias="from")
    to: int
    from_root_hash: str
    to_root_hash: str
    hashes: list[str] = Field(description="Base64 consistency proof (RFC 9162 2.1.4).")


class EpcisReadPointOut(OutModel):
    id: str


class EpcisEventOut(OutModel):
    type: Literal["ObjectEvent"]
    eventID: str
    eventTime: Timestamp
    eventTimeZoneOffset: str
    action: Literal["ADD", "OBSERVE"]
    epcList: list[str]
    bizStep: str
    disposition: str
    readPoint: EpcisReadPointOut


class EpcisBodyOut(OutModel):
    eventList: list[EpcisEventOut]


class EpcisDocumentOut(_LdOut):
    """GS1 EPCIS 2.0 document of a piece's history."""

    context: list[str | dict[str, str]] = Field(alias="@context")
    type: Literal["EPCISDocument"]
    schemaVersion: Literal["2.0"]
    creationDate: Timestamp
    epcisBody: EpcisBodyOut
