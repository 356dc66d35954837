"""Webhooks: events told to the publishers' systems, signed, retried, logged
(docs/product.md#events-signed-webhooks).

    outbox.py      an event written in the transaction of its change, with a delivery per subscribed endpoint
    endpoints.py   a publisher's endpoints: create, change, rotate the secret, delete, test
    secrets.py     the `whsec_` secrets, sealed under the server's secret key
    addresses.py   which URLs and addresses a webhook may reach (SSRF)
    deliveries.py  claiming a due delivery, recording its attempt, the log, replay
    schedule.py    when a failed delivery is tried again
    signing.py     the Standard Webhooks signature
    sending.py     one HTTP POST to a checked address

docs/architecture.md#webhooks-the-outbox-and-delivery follows one event through them.
"""
