"""The public label page in the reader's language, with the checks it made and their results."""

from __future__ import annotations

import re

import pytest

from marketplace.extensions import db
from marketplace.ids import new_id
from marketplace.provenance import pieces, transparency
from tests.provenance.helpers import verified_label


def page_of(client, path: str, **headers) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/html"
    return response.get_data(as_text=True)


@pytest.mark.parametrize(("lang", "texts"), [
    ("en", ["Valid label · signature verified", "Who made it", "Checks", "Not revoked",
            "Level L1 means Sheber's operators checked"]),
    ("ru", ["Действующий знак · подпись подтверждена", "Кто сделал", "Проверки", "Не отозван",
            "Уровень L1 означает"]),
    ("kk", ["Жарамды белгі · қолтаңба расталды", "Кім жасады", "Тексерістер",
            "Кері қайтарылмаған", "L1 деңгейі"]),
])
def test_the_page_speaks_the_readers_language(client, actors, lang, texts):
    code = verified_label(client, actors)
    html = page_of(client, f"/provenance/{code}?lang={lang}")
    assert f'<html lang="{lang}">' in html
    for text in texts:
        assert text in html, text
    # the switch offers every language, each named in itself, the current one marked
    for other, name in (("kk", "Қазақша"), ("ru", "Русский"), ("en", "English")):
        assert f'href="?lang={other}"' in html and name in html
    assert re.search(rf'lang="{lang}" hreflang="{lang}" aria-current="true"', html)


def test_without_a_choice_the_browser_language_is_used(client, actors):
    code = verified_label(client, actors)
    html = page_of(client, f"/provenance/{code}", **{"Accept-Language": "ru-RU,ru;q=0.9"})
    assert '<html lang="ru">' in html and "Проверки" in html


def test_the_page_links_the_piece_the_workshop_and_the_proofs(client, actors):
    code = verified_label(client, actors)
    html = page_of(client, f"/provenance/{code}?lang=en")
    assert f'href="/products/{actors.product.id}?lang=en"' in html
    assert f'href="/artisans/{actors.artisan.id}?lang=en"' in html
    assert f'href="/api/v1/provenance/{code}/credential"' in html
    assert 'href="/.well-known/did.json"' in html
    assert client.get(f"/products/{actors.product.id}").status_code == 200
    assert client.get(f"/artisans/{actors.artisan.id}").status_code == 200


def checks_of(html: str) -> dict[str, str]:
    table = html.split('<table class="checks">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]*)</td>\s*<td class=\"result \w+\">([^<]*)</td>", table,
                      flags=re.S)
    return {name.strip(): result.strip() for name, result in rows}


def test_the_checks_are_shown_with_their_results(client, actors):
    code = verified_label(client, actors)
    serial = pieces.issue_piece_serials(actors.product.id, 1, order_id=new_id())[0]
    db.session.commit()
    html = page_of(client, f"/provenance/{code}?lang=en&piece={serial}")
    assert checks_of(html) == {
        "Signature (Ed25519) over the record": "Holds",
        "Status (revocation list)": "Not revoked",
        "Label in the public transparency log": "Not yet in a checkpoint",
        "Piece history in the public transparency log": "Not yet in a checkpoint"}
    transparency.publish_checkpoint(force=True)
    html = page_of(client, f"/provenance/{code}?lang=en&piece={serial}")
    assert checks_of(html)["Label in the public transparency log"] == "Included"
    assert checks_of(html)["Piece history in the public transparency log"] == "Included"
    assert "Made by the artisan" in html and "GS1 EPCIS 2.0" in html

    # a history rewritten in the database no longer matches the log
    from sqlalchemy import text

    db.session.execute(text("UPDATE provenance_piece_event SET data = '{\"label_code\": \"X\"}' "
                            "WHERE seq = 3"))
    db.session.commit()
    html = page_of(client, f"/provenance/{code}?lang=en&piece={serial}")
    assert checks_of(html)["Piece history in the public transparency log"] == (
        "Does not match the log")

    client.post(f"/api/v1/operator/provenance/{actors.product.id}/revoke",
                json={"reason": "Doubtful."}, headers=actors.operator_headers)
    html = page_of(client, f"/provenance/{code}?lang=ru")
    assert checks_of(html)["Статус (список отзыва)"] == "Отозван"
    assert "Отозван с" in html
