"""HS codes become HS 2022 subheadings (6 digits): a product's 4-digit override whose heading has
a single subheading takes it (5705 -> 570500); any other shorter code is cleared, so the
product falls back to its craft's 6-digit default until the artisan sets the right one.

Revision ID: 0011_hs_subheadings
Revises: 0019_community
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_hs_subheadings'
down_revision = '0019_community'
branch_labels = None
depends_on = None

# headings among the crafts' that have exactly one subheading in HS 2022 (data/tax/hs2022.csv)
SINGLE_SUBHEADING = {
    "4201": "420100", "4205": "420500", "5705": "570500", "6505": "650500", "6602": "660200",
    "6912": "691200", "9503": "950300",
}


def upgrade():
    product = sa.table("product", sa.column("id", sa.String), sa.column("hs_code", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(product.c.id, product.c.hs_code).where(
        product.c.hs_code.is_not(None))).all()
    for product_id, code in rows:
        digits = "".join(ch for ch in code if ch.isdigit())
        if len(digits) >= 6:
            continue
        connection.execute(product.update().where(product.c.id == product_id).values(
            hs_code=SINGLE_SUBHEADING.get(digits[:4])))


def downgrade():
    # the 4-digit codes are not kept: a 6-digit code is still a valid (more precise) override
    pass
