"""Registration: organisations sign up for Reglab's networks; publishes ``SignupCompleted``."""
