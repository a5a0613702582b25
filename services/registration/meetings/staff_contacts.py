"""Staff pages (role staff) for organisations and their contacts per network; acts are audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from services.registration.meetings.contacts import add_contact, contacts_of, remove_contact, sync_contacts
from services.registration.meetings.core import active_networks
from services.registration.meetings.forms import FormInvalid, validate_person
from services.registration.meetings.models import Contact
from services.registration.meetings.web import EXPIRED_FORM, MeetingsWeb, form_text, remote_addr
from services.registration.models import Membership, Network, Organisation
from shared.audit import entries_for
from shared.digits import is_digits
from shared.web import csrf_valid, staff_page


def contacts_router(web: MeetingsWeb) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    staff = Depends(staff_page(web.settings, "staff"))

    # --- Organisations and their contacts ---

    @router.get("/staff/organisationer")
    async def organisations(request: Request, natverk: str = "", ar: str = "", user: str = staff) -> Response:
        # ?natverk=rus&ar=2018: the network's member organisations that year (the dashboard links here).
        year = int(ar) if is_digits(ar) and len(ar) == 4 else None

        def work(session: Session) -> Any:
            sync_contacts(session, web.clock.now())
            network = session.exec(select(Network).where(Network.code == natverk)).first()
            query = select(Organisation).order_by(col(Organisation.name))
            if network is not None and year is not None:
                query = query.where(col(Organisation.id).in_(
                    select(Membership.organisation_id).where(
                        Membership.network_id == network.id, Membership.year == year,
                        Membership.status == "active")))
            else:
                network = None
            return network, session.exec(query).all()

        network, rows = await web.write(work)
        return web.render(request, "meetings/organisations.html",
                          {"user": user, "rows": rows, "network": network, "year": year})

    async def organisation_page(
        request: Request,
        user: str,
        organisation_id: int,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        alert: str = "",
        notice: str = "",
        status: int = 200,
    ) -> Response:
        def work(session: Session) -> Any:
            sync_contacts(session, web.clock.now())
            organisation = session.get(Organisation, organisation_id)
            if organisation is None:
                return None
            member_of = session.exec(
                select(Network.code)
                .join(Membership, col(Membership.network_id) == Network.id)
                .where(Membership.organisation_id == organisation_id)
                .distinct()
            ).all()
            networks = [n for n in active_networks(session) if n.code in set(member_of)] or active_networks(
                session
            )
            return (
                organisation,
                contacts_of(session, organisation_id),
                networks,
                entries_for(session, f"organisation:{organisation_id}"),
            )

        found = await web.write(work)
        if found is None:
            raise HTTPException(404, "Organisationen finns inte.")
        organisation, contacts, networks, audit = found
        return web.render(
            request,
            "meetings/organisation.html",
            {
                "user": user,
                "organisation": organisation,
                "contacts": contacts,
                "networks": networks,
                "audit": audit,
                "values": values or {},
                "errors": errors or {},
                "alert": alert,
                "notice": notice,
            },
            status,
        )

    @router.get("/staff/organisationer/{organisation_id}")
    async def organisation_detail(request: Request, organisation_id: int, user: str = staff) -> Response:
        notice = {"tillagd": "Kontakten är tillagd.", "borttagen": "Kontakten är borttagen."}.get(
            request.query_params.get("sparat", ""), ""
        )
        return await organisation_page(request, user, organisation_id, notice=notice)

    @router.post("/staff/organisationer/{organisation_id}/kontakter")
    async def contact_add(request: Request, organisation_id: int, user: str = staff) -> Response:
        form = await request.form()
        values = {key: form_text(form, key) for key in ("network", "name", "email")}
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await organisation_page(
                request, user, organisation_id, values=values, alert=EXPIRED_FORM, status=400
            )
        try:
            person = validate_person(values, need_organisation=False)
            await web.write(
                lambda session: add_contact(
                    session,
                    organisation_id=organisation_id,
                    network_code=values["network"],
                    person=person,
                    actor=user,
                    remote_addr=remote_addr(request),
                    now=web.clock.now(),
                )
            )
        except FormInvalid as invalid:
            return await organisation_page(
                request,
                user,
                organisation_id,
                values=values,
                errors=invalid.errors,
                alert="Kontakten kunde inte läggas till.",
                status=422,
            )
        except LookupError as missing:
            raise HTTPException(404, "Organisationen finns inte.") from missing
        return RedirectResponse(f"/staff/organisationer/{organisation_id}?sparat=tillagd", status_code=303)

    @router.post("/staff/kontakter/{contact_id}/ta-bort")
    async def contact_remove(request: Request, contact_id: int, user: str = staff) -> Response:
        form = await request.form()
        contact = await web.read(lambda session: session.get(Contact, contact_id))
        if contact is None:
            raise HTTPException(404, "Kontakten finns inte.")
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await organisation_page(
                request, user, contact.organisation_id, alert=EXPIRED_FORM, status=400
            )
        await web.write(
            lambda session: remove_contact(
                session, contact_id, actor=user, remote_addr=remote_addr(request), now=web.clock.now()
            )
        )
        return RedirectResponse(
            f"/staff/organisationer/{contact.organisation_id}?sparat=borttagen", status_code=303
        )

    return router
