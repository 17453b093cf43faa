"""What buyers and workshops say to and about each other: favourites, reviews of delivered
pieces, conversations about a piece or an order, and made-to-order commissions that end as a
one-off listing reserved for the buyer who asked."""
