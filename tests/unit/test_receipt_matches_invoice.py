"""The receipt shown at sign-up and the invoice that follows state the same amounts.

Both read the year's fee policy (the only source of the VAT rate) and compute
with ``shared.money``; here the same memberships go through both paths.
"""

from __future__ import annotations

import pytest

from services.invoicing.domain import Outcome, build_invoice, decide_fees
from services.invoicing.pdf import sample_document
from services.registration.domain import FeeLine, fee_summary
from shared.events import MembershipInfo
from shared.policy import FeePolicy, fee_for, load_policies, parse_policy

NETWORKS = [("rus", "RUS-nätverket"), ("ung-region", "Ung region"), ("analytiker", "Analytikernätverket"),
            ("fysisk-planering", "Fysisk planering")]

POLICIES = {
    "2018 as shipped (25 %)": load_policies()[2018],
    "reduced rate, odd fee": parse_policy('year = 2018\nfee = "333.33"\nvat_rate = "0.06"\n'),
    "outside the scope of VAT": parse_policy('year = 2018\nfee = "4500.00"\nvat_treatment = "outside_scope"\n'
                                             'vat_note = "Utanför momsens tillämpningsområde."\n'),
}


@pytest.mark.parametrize("name", POLICIES)
def test_the_receipt_and_the_invoice_agree_on_net_vat_and_total(name: str) -> None:
    policy: FeePolicy = POLICIES[name]
    receipt = fee_summary([FeeLine(code, label, 2018, True, fee_for(policy, code).amount)
                           for code, label in NETWORKS], policy.effective_vat_rate)
    memberships = [MembershipInfo(membership_id=i, network_code=code, network_name=label, year=2018,
                                  created=True, fee_exempt=False)
                   for i, (code, label) in enumerate(NETWORKS, 1)]
    decisions = [d for d in decide_fees({2018: policy}, memberships) if d.outcome is Outcome.INVOICED]
    sample = sample_document()
    invoice = build_invoice(number="2018-00001", issue_date=sample.issue_date, payment_terms_days=30,
                            seller=sample.seller, buyer=sample.buyer, decisions=decisions)
    assert (receipt.net, receipt.vat, receipt.total) == (invoice.net, invoice.vat, invoice.total)
    assert receipt.vat_rate == invoice.lines[0].vat_rate
    billed = sum(1 for code, _ in NETWORKS if not fee_for(policy, code).exempt)
    assert billed >= 3 and invoice.net == billed * policy.fee
