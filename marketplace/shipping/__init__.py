"""International shipping from Almaty: rates, quotes, duties, carriers, customs papers."""
