"""Exports for the books: CSV of invoices and lines, SIE 4I vouchers, and a ZIP of the PDFs."""
