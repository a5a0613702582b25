"""The networks of the decision basis for 2018, as seed data: names exactly as the document writes them.

Fees and exemptions are not here: they belong to each year's fee policy
(``shared/policies``), whose network codes match these codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NetworkStatus = Literal["active", "proposed"]
ACTIVE: NetworkStatus = "active"
PROPOSED: NetworkStatus = "proposed"


@dataclass(frozen=True)
class NetworkSeed:
    code: str
    name: str
    status: NetworkStatus
    partners: str
    description: str


NETWORKS: tuple[NetworkSeed, ...] = (
    NetworkSeed("analytiker", "Analytikernätverket", ACTIVE, "Tillväxtverket",
                "Mötesplats för regionala analytiker, ca 25 organisationer, träffas 3 gånger per år."),
    NetworkSeed("kompetensforsorjning", "Kompetensförsörjningsnätverket", ACTIVE, "fem arrangörer",
                "Ca 30 organisationer, träffas 2 gånger per år på Kompetensförsörjningsdagarna. "
                "Har funnits i 4–5 år."),
    NetworkSeed("utvardering", "Utvärderingsnätverket", ACTIVE, "Tillväxtverket",
                "Ca 25 organisationer, träffas 2–3 gånger per år. Har funnits i två år."),
    NetworkSeed("smart-specialisering", "Smart specialisering", ACTIVE, "",
                "Självorganiserat, löst nätverk som träffas i samband med årskonferensen."),
    NetworkSeed("ung-region", "Ung region", ACTIVE, "",
                "Nytt nätverk, ca 15 organisationer, träffas 3–4 gånger per år."),
    NetworkSeed("rus", "RUS-nätverket", ACTIVE, "",
                "Nytt nätverk om regionala utvecklingsstrategier, ca 20 organisationer, "
                "träffas 3 gånger per år."),
    NetworkSeed("fysisk-planering", "Fysisk planering", ACTIVE, "",
                "Nytt nätverk, ca 20 organisationer, träffas 2 gånger per år."),
    NetworkSeed("integration", "Integrationsnätverket", ACTIVE, "",
                "Nytt nätverk, ca 15 organisationer, träffas 2 gånger per år."),
    NetworkSeed("naringslivsutveckling", "Näringslivsutveckling", PROPOSED, "",
                "Önskemål om ett nytt nätverk; ännu inte öppet för anmälan."),
    NetworkSeed("kommunikation", "Kommunikation", PROPOSED, "",
                "Önskemål om ett nytt nätverk; ännu inte öppet för anmälan."),
)
