"""moediag's resolver against a real DNS server on loopback: what it records for each way DNS answers (or not)."""

from __future__ import annotations

import time

import pytest

from dnsbed import DnsTestServer
from moediag.resolver import Resolver, parse_server

SCORING = "ep-main.eastus2.inference.ml.azure.com"
PRIVATELINK = "ep-main.0f1e2d3c.inference.eastus2.privatelink.api.azureml.ms"
ZONE = {
    SCORING: [("CNAME", PRIVATELINK)],
    "*.0f1e2d3c.inference.eastus2.privatelink.api.azureml.ms": [("A", "10.0.1.5")],
}


@pytest.fixture
def server(dns_server):
    dns_server.set_records(ZONE)
    return dns_server


@pytest.fixture
def other_server():
    with DnsTestServer({SCORING: [("A", "20.44.17.190")]}) as other:
        yield other


def resolve(server, host=SCORING, timeout=2.0) -> dict:
    return Resolver((server.address,), timeout_s=timeout).resolve(host)


def test_an_answer_records_the_cname_chain_the_addresses_and_who_answered(server):
    answer = resolve(server)
    assert answer == {"host": SCORING, "resolver": server.address, "answered_by": server.address, "rcode": "NOERROR",
                      "chain": [SCORING, PRIVATELINK], "addresses": ["10.0.1.5"], "error": None}


def test_a_longer_chain_is_reported_in_order(dns_server):
    dns_server.set_records({"a.test": [("CNAME", "b.test")], "b.test": [("CNAME", "c.test")], "c.test": [("A", "10.0.0.9")]})
    answer = resolve(dns_server, "a.test")
    assert answer["chain"] == ["a.test", "b.test", "c.test"] and answer["addresses"] == ["10.0.0.9"]


def test_nxdomain_behind_a_cname_keeps_the_chain_to_the_missing_name(server):
    server.remove("*.0f1e2d3c.inference.eastus2.privatelink.api.azureml.ms")
    answer = resolve(server)
    assert answer["rcode"] == "NXDOMAIN" and answer["chain"] == [SCORING, PRIVATELINK]
    assert PRIVATELINK in answer["error"] and answer["addresses"] == []


def test_an_unknown_name_is_nxdomain_with_a_chain_of_one(server):
    answer = resolve(server, "nope.eastus2.inference.ml.azure.com")
    assert (answer["rcode"], answer["chain"]) == ("NXDOMAIN", ["nope.eastus2.inference.ml.azure.com"])


def test_a_name_without_an_a_record_is_noanswer(dns_server):
    dns_server.set_records({"v6only.test": [("AAAA", "2001:db8::1")]})
    assert resolve(dns_server, "v6only.test")["rcode"] == "NOANSWER"


@pytest.mark.parametrize("behaviour, rcode", [("servfail", "SERVFAIL"), ("refused", "REFUSED")])
def test_a_server_answering_with_a_failure_says_which(server, behaviour, rcode):
    getattr(server, behaviour)(SCORING)
    answer = resolve(server)
    assert answer["rcode"] == rcode and rcode in answer["error"]


def test_a_silent_server_is_a_timeout_bounded_by_the_lifetime(server):
    server.silent()
    started = time.monotonic()
    answer = resolve(server, timeout=0.6)
    assert time.monotonic() - started < 1.5
    assert answer["rcode"] == "TIMEOUT" and server.address in answer["error"]


def test_a_query_that_cannot_be_sent_is_an_error_at_once(expect_network_violation):
    # 192.0.2.1 is TEST-NET-1 (never routed); the test's network guard refuses the datagram with an OSError.
    started = time.monotonic()
    with expect_network_violation():
        answer = Resolver(("192.0.2.1",), timeout_s=2.0).resolve(SCORING)
    assert answer["rcode"] == "ERROR" and "192.0.2.1" in answer["error"]
    assert time.monotonic() - started < 1.0


def test_a_large_answer_falls_back_to_tcp(dns_server):
    dns_server.set_records({"big.test": [("A", f"10.0.{i // 250}.{i % 250}") for i in range(200)]})
    assert len(resolve(dns_server, "big.test")["addresses"]) == 200
    assert [q.transport for q in dns_server.queries] == ["udp", "tcp"]


def test_via_asks_only_the_named_server_with_the_same_timeout(server, other_server):
    other = other_server
    main = Resolver((server.address,), timeout_s=1.5)
    via = main.via(other.address)
    assert via.timeout_s == 1.5 and main.via(other.address) is via
    assert via.resolve(SCORING)["addresses"] == ["20.44.17.190"]
    assert server.queries == []


@pytest.mark.parametrize("text, parsed", [("10.0.0.4", ("10.0.0.4", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
                                          ("[::1]:5353", ("::1", 5353)), ("::1", ("::1", 53))])
def test_server_addresses_with_and_without_ports(text, parsed):
    assert parse_server(text) == parsed


@pytest.mark.parametrize("text", ["dns.example.com", "10.0.0.4:0", "10.0.0.4:70000", "10.0.0.4:x"])
def test_a_server_must_be_an_address_and_a_valid_port(text):
    with pytest.raises(ValueError):
        parse_server(text)


def test_without_a_resolver_configuration_every_answer_says_so(monkeypatch):
    import dns.resolver

    def no_config(self, *a, **kw):
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver.Resolver, "read_resolv_conf", no_config)
    resolver = Resolver(())
    answer = resolver.resolve(SCORING)
    assert resolver.description == "system resolver (none configured)"
    assert answer["rcode"] == "ERROR" and "no usable resolver configuration" in answer["error"]
