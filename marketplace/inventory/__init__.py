"""Stock holds: what checkout reserves, payment sells and cancellation puts back."""
