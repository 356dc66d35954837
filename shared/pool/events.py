"""The pool's moments (a stock falling low, a backorder filled, a
reservation expired), written in the transaction that made them, so that
one is recorded exactly when its change commits and never otherwise."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.statuses import PoolEventKind

_RECORD = text(
    "INSERT INTO pool_events (kind, product_id, code_type, allocation_id, data) "
    "VALUES (:kind, :product_id, :code_type, :allocation_id, CAST(:data AS jsonb))"
)


def record(
    session: Session,
    kind: PoolEventKind,
    product_id: int,
    code_type: str,
    data: dict[str, Any],
    allocation_id: int | None = None,
) -> None:
    session.execute(
        _RECORD,
        {
            "kind": kind.value,
            "product_id": product_id,
            "code_type": code_type,
            "allocation_id": allocation_id,
            "data": json.dumps(data),
        },
    )
