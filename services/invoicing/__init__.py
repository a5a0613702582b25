"""Invoicing: decides each membership's fee from the year's policy and issues invoices with PDFs.

It consumes ``signup.completed`` from the registration stream and publishes
``invoice.issued`` (with the PDF) on the invoicing stream. Finance reads the
invoices through ``/api/v1/invoices`` and a login-protected page.
"""
