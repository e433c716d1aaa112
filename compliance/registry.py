"""The personal-data registry: how the compliance app reaches other apps' personal data without importing them.

``compliance`` never imports ``calls`` (or any app that holds data about the people who were called). Each such app
registers a :class:`PersonalDataHandler` in its ``AppConfig.ready()``; the rights-request workflow and retention go
through the registered handlers only. A person is named by blind indexes (HMAC of the normalised phone number and
e-mail address, see ``tenants.crypto``), never by the values themselves, so that asking "who holds data about this
person?" needs no decryption.

Handlers run inside a scope chosen by the caller: ``holders`` under ``all_tenants_scope`` (it looks across tenants),
the per-tenant methods under that tenant's ``tenant_scope``, inside the caller's transaction (a handler that fails
raises, and the caller's rollback undoes whatever it had done). What a handler did is reported as :data:`Counts`,
"data store → records affected", so that the controller and CALLKOM staff can see it store by store.

Retention (``compliance.retention``) asks every handler, per :class:`~compliance.models.RetentionCategory` it
declares, to purge one batch at a time. An app whose data is about calls but cannot be found by person (webhook
deliveries, compliance's own AI log) registers a :class:`RetentionHandler` only, with
:func:`register_retention_handler`: it takes part in retention and stays out of the rights-request workflow.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tenants.models import Tenant

# Data store (e.g. "calls.utterances") -> how many records were affected.
Counts = dict[str, int]

# The fields a rectification may change, in every handler.
RECTIFIABLE_FIELDS = ("name", "email", "phone", "company")


@dataclass(frozen=True)
class DataSubject:
    """One person, as far as the handlers need to know.

    The blind indexes of the phone number and e-mail find the person. The values themselves (normalised: E.164,
    lower-case) are there only for a handler that must write them, such as the do-not-call entry of an objection;
    they are kept out of ``repr`` so that they never reach a log or a traceback.
    """

    phone_index: str | None = None
    email_index: str | None = None
    phone: str = field(default="", repr=False)
    email: str = field(default="", repr=False)


@dataclass(frozen=True)
class Rectification:
    """What a handler corrected: the records changed per store, and the distinct values each field had before
    (for the audit of the rectification, which keeps them encrypted)."""

    counts: Counts
    previous: dict[str, list[str]]


@dataclass(frozen=True)
class Holds:
    """What the tenant's active legal holds keep out of retention, as a batch of it needs to know.

    ``call_ids`` are the calls held, by id (an incident or a dispute), together with the calls of the people held
    (found by the rights handlers' :meth:`PersonalDataHandler.held_call_ids`), so that a store that knows calls only,
    such as the AI log, keeps a held person's data too. The people themselves are named by blind indexes.
    """

    call_ids: frozenset[str] = frozenset()
    phone_indexes: frozenset[str] = frozenset()
    email_indexes: frozenset[str] = frozenset()

    def covers_call(self, call_id) -> bool:
        return call_id is not None and str(call_id) in self.call_ids

    def covers_person(self, *, phone_index: str | None = None, email_index: str | None = None) -> bool:
        return bool(phone_index and phone_index in self.phone_indexes
                    or email_index and email_index in self.email_indexes)


@runtime_checkable
class RetentionHandler(Protocol):
    """What an app offers to retention: which categories of its data it purges, and how, one batch at a time.

    Both methods run under the tenant's ``tenant_scope``; ``purge`` inside the transaction that also records the
    batch in the run, so that a crash undoes both or neither.
    """

    name: str
    retention_categories: tuple[str, ...]  # values of compliance.models.RetentionCategory

    def purge(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime, batch_size: int,
              held: Holds) -> tuple[int, int]:
        """Delete (or blank) at most ``batch_size`` of the tenant's rows of ``category`` older than ``cutoff`` that
        ``held`` does not cover; return (rows deleted or blanked, rows kept under a hold).

        The first number reaches 0 once nothing is left to do: retention then moves on. The second counts every
        row past the cut-off kept under a hold among those the call looked at, which is all of them once the first
        is 0; a caller keeps that last answer rather than adding the answers up (the same held rows are seen again
        by each batch).
        """
        ...

    def purgeable(self, tenant: Tenant, category: str, *, cutoff: datetime.datetime,
                  held: Holds) -> tuple[int, int]:
        """What ``purge`` would do now, in every batch together, without changing anything (a dry run)."""
        ...


@runtime_checkable
class PersonalDataHandler(RetentionHandler, Protocol):
    """What an app that holds personal data about called people offers to the rights-request workflow."""

    name: str

    def holders(self, *, phone_index: str | None, email_index: str | None) -> set[int]:
        """Return the ids of the tenants that hold data matching either index (None means "not given").

        Routing uses this to put a copy of a request in the inbox of every controller concerned, so it must be
        exhaustive for the handler's models. Runs under ``all_tenants_scope`` opened by the caller.
        """
        ...

    def export(self, tenant: Tenant, subject: DataSubject) -> dict:
        """Return the subject's data held for ``tenant`` as JSON-serialisable data (access, portability).

        Runs under ``tenant_scope(tenant)``.
        """
        ...

    def erase(self, tenant: Tenant, subject: DataSubject) -> Counts:
        """Delete or anonymise the subject's data held for ``tenant``; return the records affected per store.

        What must stay to honour the person's other rights (a do-not-call entry after an objection) stays.
        Runs under ``tenant_scope(tenant)``.
        """
        ...

    def rectify(self, tenant: Tenant, subject: DataSubject, changes: dict[str, str]) -> Rectification:
        """Apply corrections (a field of :data:`RECTIFIABLE_FIELDS` to its new, normalised value) to the subject's
        data held for ``tenant``. Runs under ``tenant_scope(tenant)``.
        """
        ...

    def restrict(self, tenant: Tenant, subject: DataSubject, restricted: bool) -> Counts:
        """Report the records that a restriction of processing (GDPR Art. 18) set or lifted now covers.

        The restriction itself is a legal hold kept by the compliance app (``compliance.selectors.is_held``), which
        the handler's own processing must consult. Runs under ``tenant_scope(tenant)``.
        """
        ...

    def object(self, tenant: Tenant, subject: DataSubject) -> Counts:
        """Honour an objection (GDPR Art. 21): stop processing the subject's data for ``tenant`` from now on (for
        calls, a do-not-call entry). Runs under ``tenant_scope(tenant)``.
        """
        ...

    def held_call_ids(self, tenant: Tenant, *, phone_indexes: frozenset[str],
                      email_indexes: frozenset[str]) -> set[str]:
        """Return the ids (as strings) of the tenant's calls that involve any of these people, whom a legal hold
        keeps: retention leaves those calls' data alone in every store. Runs under ``tenant_scope(tenant)``.
        """
        ...


_handlers: dict[str, PersonalDataHandler] = {}
_retention_only: dict[str, RetentionHandler] = {}


def register_handler(handler: PersonalDataHandler) -> PersonalDataHandler:
    """Add a handler (from an ``AppConfig.ready()``). Registering a name again replaces the earlier handler."""
    if not isinstance(handler, PersonalDataHandler):
        raise TypeError(f"{handler!r} does not implement PersonalDataHandler.")
    _handlers[handler.name] = handler
    return handler


def unregister_handler(name: str) -> None:
    """Remove a handler by name (tests register fakes and take them out again)."""
    _handlers.pop(name, None)


def handlers() -> tuple[PersonalDataHandler, ...]:
    return tuple(_handlers.values())


def register_retention_handler(handler: RetentionHandler) -> RetentionHandler:
    """Add a handler that takes part in retention only (from an ``AppConfig.ready()``); same name, same rule."""
    if not isinstance(handler, RetentionHandler):
        raise TypeError(f"{handler!r} does not implement RetentionHandler.")
    _retention_only[handler.name] = handler
    return handler


def unregister_retention_handler(name: str) -> None:
    _retention_only.pop(name, None)


def retention_handlers(category: str) -> tuple[RetentionHandler, ...]:
    """Every handler, of either kind, that purges this category."""
    return tuple(handler for handler in (*_handlers.values(), *_retention_only.values())
                 if category in handler.retention_categories)


def holders(*, phone_index: str | None, email_index: str | None) -> set[int]:
    """Return the ids of every tenant that any handler says holds data matching either index."""
    if not phone_index and not email_index:
        return set()
    found: set[int] = set()
    for handler in handlers():
        found |= handler.holders(phone_index=phone_index or None, email_index=email_index or None)
    return found
