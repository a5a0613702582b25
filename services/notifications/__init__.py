"""Notifications: records every email an event calls for, then sends it over SMTP with retries."""
