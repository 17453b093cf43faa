"""Demo provenance: full records for a few catalogue products, verified at L1 and L2.

Runs after the catalogue seed and goes through the same service calls as the API
(record → submit → operator decision), so the labels are really signed.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.catalog.models import ArtisanProfile, Product, ProductStatus
from marketplace.extensions import db
from marketplace.provenance import records
from marketplace.provenance.models import ProvenanceRecord

DEMO_PRODUCTS = 6
PRECIOUS_DEFAULT_FINENESS = {"silver": 925, "gold": 585, "platinum": 950}

# Per craft: where materials come from, design, dyes, hours, share of hand work.
CRAFT_DETAILS: dict[str, dict] = {
    "jewellery": {"region": "Almaty", "design": {"origin": "traditional",
                                                  "motif": "qoshqar muiz (ram's horn)"},
                  "hours": 18, "hand": 95, "availability": "ready"},
    "ceramics": {"region": "Almaty Region", "design": {"origin": "original"},
                 "hours": 9, "hand": 90, "availability": "ready"},
    "felt": {"region": "Zhetysu", "design": {"origin": "traditional",
                                             "motif": "syrmaq ornament"},
             "dyes": [{"name": "madder root", "kind": "natural"},
                      {"name": "walnut husk", "kind": "natural"}],
             "hours": 40, "hand": 100, "availability": "made_to_order"},
    "textiles": {"region": "Turkistan Region", "design": {"origin": "traditional",
                                                          "motif": "keste embroidery"},
                 "dyes": [{"name": "indigo", "kind": "natural"}],
                 "hours": 30, "hand": 100, "availability": "ready"},
    "leather": {"region": "Almaty Region", "design": {"origin": "original"},
                "hours": 12, "hand": 85, "availability": "ready"},
    "wood": {"region": "East Kazakhstan", "design": {"origin": "traditional",
                                                     "motif": "oyu-örnek carving"},
             "hours": 26, "hand": 90, "availability": "made_to_order"},
    "instruments": {"region": "East Kazakhstan",
                    "design": {"origin": "traditional", "motif": "Zhetysu dombyra school"},
                    "hours": 60, "hand": 95, "availability": "made_to_order"},
    "metal": {"region": "Almaty", "design": {"origin": "original"},
              "hours": 15, "hand": 90, "availability": "ready"},
    "other": {"region": "Almaty", "design": {"origin": "original"},
              "hours": 8, "hand": 80, "availability": "ready"},
}


def _fineness(material: str) -> int | None:
    """"silver 925" -> 925, "gold" -> 585; None for anything that is not a precious metal."""
    lowered = material.lower()
    metal = next((m for m in PRECIOUS_DEFAULT_FINENESS if m in lowered), None)
    if metal is None:
        return None
    stated = re.search(r"\b([1-9]\d{2})\b", lowered)
    return int(stated.group(1)) if stated else PRECIOUS_DEFAULT_FINENESS[metal]


def _one_per_craft(products: list[Product]) -> list[Product]:
    """Spread the demo over crafts (and so over workshops) rather than the first few rows."""
    chosen, crafts = [], set()
    for product in products:
        if product.craft not in crafts:
            chosen.append(product)
            crafts.add(product.craft)
    rest = [p for p in products if p not in chosen]
    return (chosen + rest)[:DEMO_PRODUCTS]


def demo_record(product: Product, artisan: User, profile: ArtisanProfile | None) -> dict:
    details = CRAFT_DETAILS.get(product.craft, CRAFT_DETAILS["other"])
    city = profile.city if profile else "Almaty"
    materials = []
    for name in product.materials or ["local material"]:
        material = {"name": name, "origin": {"country": "KZ", "region": details["region"]}}
        fineness = _fineness(name)
        if fineness:
            material.update(precious_metal=True, fineness=fineness,
                            hallmark=f"{fineness} KZ assay office")
        materials.append(material)
    record = {
        "makers": [
            {"name": artisan.name, "kind": "artisan", "role": "master",
             "place": {"city": city, "country": "KZ"}},
            {"name": f"{profile.workshop_name if profile else artisan.name} team",
             "kind": "workshop_team", "role": "finishing"},
        ],
        "place": {"city": city, "region": "Almaty", "country": "KZ"},
        "craft": product.craft,
        "techniques": list(product.techniques or ["hand finishing"]),
        "materials": materials,
        "dyes": details.get("dyes", []),
        "when": {"availability": details["availability"], "started_on": "2025-09-01",
                 "finished_on": "2025-09-20", "hours": details["hours"]},
        "hand_work_share": details["hand"],
        "design": details["design"],
        "lineage": [{"master": "Master of the workshop's founding generation",
                     "apprentice": artisan.name, "since_year": 2010}],
        "certifications": [],
        "cultural_value": False,
    }
    return record


def seed_demo() -> str:
    products = _one_per_craft(list(db.session.execute(
        select(Product).where(Product.status == ProductStatus.ACTIVE)
        .order_by(Product.created_at, Product.id).limit(500)
    ).scalars()))
    if not products:
        return "no products yet (the catalogue seed runs first): nothing to verify"
    operator_id = db.session.execute(
        select(User.id).where(User.role == Role.OPERATOR).order_by(User.created_at).limit(1)
    ).scalar_one_or_none()
    done = {"L1": 0, "L2": 0, "pending": 0}
    for index, product in enumerate(products):
        if db.session.get(ProvenanceRecord, product.id) is not None:
            continue
        artisan = db.session.get(User, product.artisan_id)
        profile = db.session.get(ArtisanProfile, product.artisan_id)
        records.put_record(product.id, demo_record(product, artisan, profile),
                           artisan_id=artisan.id)
        records.submit_record(product.id, artisan_id=artisan.id)
        if index == len(products) - 1 and len(products) > 2:
            done["pending"] += 1  # leave one in the operators' queue
            continue
        evidence = [{"type": "studio_visit", "note": "Demo: workshop visited, work in progress "
                     "photographed."},
                    {"type": "material_receipt", "note": "Demo: material receipts checked."}]
        if index < 2:
            records.decide(product.id, operator_id=operator_id, decision="approve", level="L2",
                           evidence=evidence, note="Demo verification.",
                           attestation={"scheme": "Craft guild membership",
                                        "issuer": "Almaty Craft Guild (demo data)",
                                        "reference": f"DEMO-GUILD-{index + 1:03d}"})
            done["L2"] += 1
        else:
            records.decide(product.id, operator_id=operator_id, decision="approve", level="L1",
                           evidence=evidence, note="Demo verification.")
            done["L1"] += 1
    if not any(done.values()):
        return "demo records already present"
    return (f"{done['L2']} labels at L2, {done['L1']} at L1, "
            f"{done['pending']} record(s) pending verification")
