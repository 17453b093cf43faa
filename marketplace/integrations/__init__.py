"""Clients of services outside the process (Stripe), built from the configuration."""
