"""The code pool: a product's available codes, handed out to references
(the publisher's orders) by allocations, each move one transaction
(docs/architecture.md#the-code-pool).

    allocations   take codes for a reference, or find an allocation
    moves         distribute, release, revoke an allocation; expire reservations
    backorders    fill waiting backorders, in the order they were made
    batches       revoke what is left of a leaked request
    stock         what a product holds, how fast it goes, whether it is low
    picking       the codes a take gets, locked without waiting, and back
    counts        the counts that move with the codes, and stock.low
    events        the pool's moments, recorded for the publisher's systems
"""
