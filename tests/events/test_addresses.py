"""Which URLs and addresses a webhook may reach (shared.events.addresses):
every address a host resolves to is checked, public ones only."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from shared.config import WebhookSettings
from shared.errors import InvalidFields
from shared.events.addresses import checked, refusal

STRICT = WebhookSettings.from_env({})
OPEN = dataclasses.replace(STRICT, allow_private_networks=True)

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # the cloud metadata address
    "0.0.0.0": "unspecified",
    "224.0.0.251": "multicast",
    "240.0.0.1": "reserved",
    "100.64.0.1": "not a public",  # shared address space (carrier-grade NAT)
    "192.0.2.10": "private",  # documentation
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::5": "private",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.0.0.1": "private",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize(("address", "kind"), sorted(REFUSED.items()))
def test_an_internal_address_is_refused_with_its_kind(address: str, kind: str) -> None:
    why = refusal(ipaddress.ip_address(address))

    assert why is not None and kind in why


@pytest.mark.parametrize("address", PUBLIC)
def test_a_public_address_is_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_a_host_is_refused_when_any_of_its_addresses_is_internal() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(InvalidFields) as refused:
        checked("https://shop.example/hooks", STRICT, resolver)

    assert refused.value.problems == {
        "url": "reaches 10.0.0.7, a private address; webhooks are sent to public addresses only"
    }


def test_the_target_keeps_the_checked_addresses_and_the_host_for_tls() -> None:
    target = checked("https://Shop.Example:8443/in?x=1", STRICT, lambda host, port: ["93.184.216.34"])

    assert (target.host, target.port, target.path, target.addresses) == (
        "shop.example",
        8443,
        "/in?x=1",
        ("93.184.216.34",),
    )
    assert target.host_header == "Shop.Example:8443"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://93.184.216.34/", "must use https"),
        ("ftp://93.184.216.34/", "must be an https:// URL"),
        ("https:///nohost", "must be an https:// URL"),
        ("https://user:pw@93.184.216.34/", "user name or password"),
        ("https://93.184.216.34:99999/", "is not a valid URL"),
        ("https://93.184.216.34/a b", "without spaces"),
        ("https://[::1]/", "::1, a loopback address"),
        ("https://localhost/", "a loopback address"),
        ("https://no-such-host.invalid/", "could not be resolved"),
        (42, "must be a URL"),
        ("https://93.184.216.34/" + "x" * 2000, "at most 2000 characters"),
    ],
)
def test_a_url_that_cannot_be_a_webhook_is_refused_naming_url(url: object, problem: str) -> None:
    with pytest.raises(InvalidFields) as refused:
        checked(url, STRICT)

    assert list(refused.value.problems) == ["url"]
    assert problem in refused.value.problems["url"]


def test_http_is_allowed_to_a_host_the_operator_names() -> None:
    policy = dataclasses.replace(STRICT, http_hosts=frozenset({"93.184.216.34"}))

    assert checked("http://93.184.216.34/hooks", policy).scheme == "http"


def test_private_networks_allowed_lift_the_checks_and_allow_http() -> None:
    assert checked("http://127.0.0.1:9/hooks", OPEN).addresses == ("127.0.0.1",)
