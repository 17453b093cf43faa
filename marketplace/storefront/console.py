"""The operator console (/console): provenance queue and exchange rates."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from marketplace.fx import service as fx
from marketplace.provenance import service as provenance
from marketplace.storefront.pages import html_errors, roles_required

bp = html_errors(Blueprint("console", __name__, url_prefix="/console"))

PAGE_SIZE = 50


@bp.get("/")
@roles_required("operator")
def dashboard():
    queue, next_cursor = provenance.list_records("pending", limit=PAGE_SIZE,
                                                 cursor=request.args.get("cursor") or None)
    rates = sorted(fx.current_rates().rates.values(), key=lambda rate: rate.currency)
    next_url = url_for("console.dashboard", cursor=next_cursor) if next_cursor else None
    return render_template("console/dashboard.html", queue=queue, rates=rates,
                           next_url=next_url)
