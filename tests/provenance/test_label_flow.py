"""The whole life of a label through the API: approve, publish, verify independently, revoke,
re-approve."""

from __future__ import annotations

import base64
import json
import re

import pytest
import zxingcpp
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from PIL import Image, ImageDraw

from marketplace.catalog.models import Product
from marketplace.extensions import db
from tests.provenance.helpers import PUBLIC_URL, approve, full_record, submit, verified_label


def nacl_verify(client, label: dict) -> None:
    """A second implementation (libsodium) checks the label with only public inputs."""
    keys = client.get("/api/v1/provenance/public-key").get_json()
    public_key = next(k["public_key"] for k in keys["keys"] if k["key_id"] == label["key_id"])
    message = json.dumps(label["record"], sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
    VerifyKey(base64.b64decode(public_key)).verify(message, base64.b64decode(label["signature"]))


def decode_qr(svg: str) -> str:
    """Rasterise the SVG path's unit squares and read it back with zxing-cpp."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, x2, y2 in re.findall(r"M(\d+),(\d+)H(\d+)V(\d+)", svg):
        draw.rectangle([int(x) * scale, int(y) * scale, int(x2) * scale - 1,
                        int(y2) * scale - 1], fill=0)
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return results[0].text


def test_approve_publish_verify_revoke_and_reapprove(client, actors):
    code = verified_label(client, actors, "L1")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", code)

    label = client.get(f"/api/v1/provenance/{code}").get_json()
    assert label["valid"] is True and label["status"] == "valid"
    assert label["record"]["record"]["design"]["motif"] == "қошқар мүйіз"
    assert label["record"]["product"]["id"] == actors.product.id
    assert label["record"]["artisan"]["name"] == "Aigerim Nurlanovna"
    assert label["record"]["level"] == "L1" and label["record"]["code"] == code
    assert label["canonical"].encode() == json.dumps(
        label["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    nacl_verify(client, label)

    flipped = json.loads(json.dumps(label))
    flipped["record"]["record"]["hand_work_share"] = 96
    with pytest.raises(BadSignatureError):
        nacl_verify(client, flipped)
    flipped = json.loads(json.dumps(label))
    flipped["record"]["record"]["design"]["motif"] = "қошқар мүйіс"  # one character
    with pytest.raises(BadSignatureError):
        nacl_verify(client, flipped)

    page = client.get(f"/provenance/{code}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for text in ("Aigerim Nurlanovna", "Zhetysu Wool Cooperative", "Almaty", "sgraffito",
                 "red clay", "fineness 925", "Award of Excellence for Handicrafts",
                 "Valid label", "Verified by Sheber", "қошқар мүйіз"):
        assert text in html, text
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]

    qr = client.get(f"/provenance/{code}.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert decode_qr(qr.get_data(as_text=True)) == f"{PUBLIC_URL}/provenance/{code}"

    response = client.patch(f"/api/v1/products/{actors.product.id}",
                            json={"techniques": ["wheel-throwing", "sgraffito", "gilding"]},
                            headers=actors.artisan_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["provenance"] == {
        "level": "L0", "label_code": code, "status": "revoked",
        "url": f"{PUBLIC_URL}/provenance/{code}"}
    old = client.get(f"/api/v1/provenance/{code}").get_json()
    # the signature still holds, but a revoked label is not to be trusted
    assert old["status"] == "revoked" and old["valid"] is False and old["signature_valid"] is True
    assert old["revoked_at"] and "techniques" in old["revoked_reason"]
    assert db.session.get(Product, actors.product.id).provenance_level == "L0"
    revoked_page = client.get(f"/provenance/{code}").get_data(as_text=True)
    assert "Revoked since" in revoked_page and "Verified by Sheber" not in revoked_page

    edit = full_record(techniques=["wheel-throwing", "sgraffito", "gilding"])
    submit(client, actors, edit)
    new_code = approve(client, actors, "L2")
    assert new_code != code
    new = client.get(f"/api/v1/provenance/{new_code}").get_json()
    assert new["valid"] is True and new["status"] == "valid" and new["level"] == "L2"
    assert new["record"]["attestation"]["reference"] == "GUILD-2025-014"
    nacl_verify(client, new)
    assert client.get(f"/api/v1/provenance/{code}").get_json()["superseded_by"] == new_code
    assert db.session.get(Product, actors.product.id).provenance_level == "L2"
    assert "Attested by Almaty Craft Guild" in client.get(f"/provenance/{new_code}").get_data(
        as_text=True)
