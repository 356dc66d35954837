"""What each locust user does, told to the locustfile and to the figures
alike without importing locust (its import monkey-patches with gevent)."""

CODES_PER_FILE = 10_000
POLL_SECONDS = 0.5  # while an upload is pending
# The names locust files requests under: one per route, not one per URL.
UPLOAD = "POST /api/v1/products/[id]/uploads"
STATUS = "GET /api/v1/uploads/[id]"
