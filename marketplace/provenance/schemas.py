"""Provenance request and response models.

The record is saved as a draft with any subset of fields; ``service.missing_fields`` says what
a submission still needs. Numbers are integers only (hours, percent, fineness in parts per
thousand), so that the signed canonical JSON never carries a float.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from marketplace.catalog.models import Craft
from marketplace.geo import COUNTRIES


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


# Responses (documentation for the OpenAPI document)

class RecordOut(BaseModel):
    product_id: str
    status: str
    level: str
    record: dict
    missing: dict[str, list[str]]
    label_code: str | None
    label_url: str | None
    submitted_at: str | None
    updated_at: str | None


class RecordPage(BaseModel):
    items: list[dict]
    next_cursor: str | None


class LabelOut(BaseModel):
    code: str
    record: dict
    canonical: str
    signature: str
    key_id: str
    public_key: str | None
    algorithm: str
    valid: bool
    status: str
    level: str
    issued_at: str | None
    revoked_at: str | None = None
    revoked_reason: str | None = None
    superseded_by: str | None = None
    url: str
    qr_url: str


class PublicKeyOut(BaseModel):
    key_id: str
    public_key: str
    algorithm: str
    keys: list[dict]


class PieceOut(BaseModel):
    serial: str
    code: str
    product_id: str
    events: list[dict]
    head_hash: str | None
    verifies: bool


class FlagOut(BaseModel):
    id: str
    label_code: str
    product_id: str
    reason: str
    status: str
    created_at: str
    resolved_at: str | None = None
    resolution_note: str | None = None


class FlagPage(BaseModel):
    items: list[FlagOut]
    next_cursor: str | None
