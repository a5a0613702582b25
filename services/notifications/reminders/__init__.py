"""The reminder ledger (the CiviCRM model): rules say what is due, the ledger records it, then it is sent."""
