"""Fee policy changes in the audit log.

Finance changes a policy by editing or adding a file in ``FEE_POLICY_DIR``;
the act itself happens outside the system, so invoicing records it when it
starts: each year's policy is fingerprinted, and a policy never seen before,
or one whose content differs from the last recorded, gets an entry
(``policy.load`` / ``policy.change``) with what it now says.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine, text

from shared.audit import entries_for, record_act
from shared.db import transaction
from shared.policy import FeePolicy

ACTOR = "policyfil"


def fingerprint(policy: FeePolicy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]


def describe(policy: FeePolicy) -> str:
    vat = (f"moms {policy.vat_rate * 100:.0f} %" if policy.vat_treatment == "standard"
           else "utanför momsens tillämpningsområde")
    exempt = ", ".join(e.network for e in policy.exemptions) or "inga"
    terms = f"avgift {policy.fee} {policy.currency}, {vat}, avgiftsfria: {exempt}"
    return f"{terms}; sha256 {fingerprint(policy)}"


def record_policy_changes(engine: Engine, policies: Mapping[int, FeePolicy], now: datetime) -> list[int]:
    """Audit each policy that is new or changed since the last start; the years recorded."""
    recorded: list[int] = []
    with transaction(engine) as session:
        if engine.dialect.name == "postgresql":  # instances starting together record a change once
            session.connection().execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                         {"key": zlib.crc32(b"reglab-policy-audit")})
        for year, policy in sorted(policies.items()):
            latest = entries_for(session, f"policy:{year}", limit=1)
            if latest and latest[0].detail.endswith(f"sha256 {fingerprint(policy)}"):
                continue
            record_act(session, actor=ACTOR, action="policy.change" if latest else "policy.load",
                       subject=f"policy:{year}", detail=describe(policy), remote_addr="local", at=now)
            recorded.append(year)
    return recorded
