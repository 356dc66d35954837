"""A take as one SQL statement (docs/architecture.md#a-take-in-one-statement).

Every take of a product moves the same count rows, and each is locked from
its update to the commit: whatever a take does between the two, every other
take of the product waits for it. Sent as one statement, and run by the API
outside any transaction of its own (each statement commits itself), a take
holds those rows only for the rest of the statement and its commit, never
across a round trip to the web process, which may be waiting for a core.

The parts, each a step of the statement, in the order they depend on each
other (and so run):

1. `picked`: the oldest available codes, locked without waiting for the ones
   other takes hold; none while earlier backorders of the product and type
   wait, since those come first;
2. `made`: the allocation, when there are enough codes (or as a backorder
   when the caller allows one), ON CONFLICT DO NOTHING on (product,
   reference): a call with a reference another call is making waits here
   for that call's commit, then inserts nothing and replays it. It waits
   before any count is locked, so two such calls never wait on each other;
3. `handed`, `kept`: the codes move to the allocation and its history;
4. `counted`: the available count goes down (locked from here), returning
   the product's threshold with it; then the count of the allocation's
   status and the day's hand-outs go up, always in that order, as every
   other move of the counts does (shared.pool.counts), so that no two moves
   wait on each other in a circle;
5. `low`: the stock.low moment, when this take is the one that crosses the
   threshold: the count's row lock orders the takes, so exactly one sees
   each crossing.

With too few codes and no backorder allowed, nothing is inserted: the pick's
row locks end with the statement, and the caller reads why.
"""

from __future__ import annotations

from sqlalchemy import text

from shared.statuses import AllocationStatus, CodeStatus, PoolEventKind

TAKE = text(f"""
WITH picked AS (
    SELECT id, code, expiry_days, build_no, seats, request_id, line_no FROM license_codes
    WHERE product_id = :product_id AND code_type = :code_type AND status = '{CodeStatus.AVAILABLE}'
      AND NOT EXISTS (
          SELECT 1 FROM allocations
          WHERE product_id = :product_id AND code_type = :code_type AND status = '{AllocationStatus.BACKORDERED}'
      )
    ORDER BY request_id, line_no
    LIMIT :quantity
    FOR UPDATE SKIP LOCKED
), enough AS (
    SELECT count(*) = :quantity AS yes FROM picked
), made AS (
    INSERT INTO allocations (product_id, reference, code_type, quantity, mode, status, reservation_minutes,
                             filled_at, expires_at, distributed_at)
    SELECT :product_id, :reference, :code_type, :quantity, :mode,
           CASE WHEN yes THEN :status ELSE '{AllocationStatus.BACKORDERED}' END, :minutes,
           CASE WHEN yes THEN now() END,
           CASE WHEN yes AND :reserve THEN now() + make_interval(mins => :minutes) END,
           CASE WHEN yes AND NOT :reserve THEN now() END
    FROM enough WHERE yes OR :backorder
    ON CONFLICT (product_id, reference) DO NOTHING
    RETURNING *
), handed AS (
    UPDATE license_codes c SET status = :status, allocation_id = made.id
    FROM picked, made
    WHERE c.id = picked.id AND made.status = :status
    RETURNING c.id
), kept AS (
    INSERT INTO allocation_codes (allocation_id, code_id) SELECT made.id, handed.id FROM handed, made
), counted AS (
    UPDATE code_counts SET codes = codes - :quantity
    WHERE product_id = :product_id AND code_type = :code_type AND status = '{CodeStatus.AVAILABLE}'
      AND EXISTS (SELECT 1 FROM made WHERE status = :status)
    RETURNING codes, (SELECT low_stock_threshold FROM products WHERE product_id = :product_id) AS threshold
), added AS (
    INSERT INTO code_counts AS c (product_id, code_type, status, codes)
    SELECT :product_id, :code_type, :status, :quantity FROM counted
    ON CONFLICT (product_id, code_type, status) DO UPDATE SET codes = c.codes + EXCLUDED.codes
), day AS (
    INSERT INTO hand_out_days AS h (product_id, code_type, day, codes)
    SELECT :product_id, :code_type, CAST(now() AT TIME ZONE 'UTC' AS date), :quantity FROM counted
    WHERE NOT :reserve
    ON CONFLICT (product_id, code_type, day) DO UPDATE SET codes = h.codes + EXCLUDED.codes
), low AS (
    INSERT INTO pool_events (kind, product_id, code_type, data)
    SELECT '{PoolEventKind.STOCK_LOW}', :product_id, :code_type,
           jsonb_build_object('product_id', :product_id, 'code_type', CAST(:code_type AS text),
                              'available', codes, 'low_stock_threshold', threshold)
    FROM counted WHERE codes < threshold AND threshold <= codes + :quantity
)
SELECT made.id, made.created_at, made.status, made.filled_at, made.expires_at, made.distributed_at,
       picked.id AS code_id, picked.code, picked.expiry_days, picked.build_no, picked.seats
FROM made LEFT JOIN picked ON made.status = :status
ORDER BY picked.request_id, picked.line_no
""")
