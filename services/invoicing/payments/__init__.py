"""Payments: registered by hand or imported from Bankgirot's BgMax file, matched to invoices by OCR."""
