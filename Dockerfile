# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    LICENSECODES_DATA_DIR=/var/lib/licensecodes

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY web ./web
COPY worker ./worker
RUN pip install --no-cache-dir . \
    && useradd --system --create-home licensecodes \
    && mkdir -p "$LICENSECODES_DATA_DIR" \
    && chown licensecodes "$LICENSECODES_DATA_DIR"

USER licensecodes
EXPOSE 8000
CMD ["licensecodes", "web"]
