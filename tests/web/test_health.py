from __future__ import annotations

from flask.testing import FlaskClient

from shared.config import Settings
from web import create_app


def test_healthz_responds_ok_when_database_and_broker_answer(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_names_the_broker_when_it_does_not_answer(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.with_urls(settings.database_url or "", f"unix://{tmp_path}/no-redis.sock"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "ok", "broker": "down"}


def test_healthz_names_the_database_when_it_does_not_answer(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.with_urls(f"postgresql://postgres@/nothing?host={tmp_path}", settings.redis_url or ""))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "down", "broker": "ok"}
