"""Specification of the DNS test server, as dnspython (the product's client) sees it."""

from __future__ import annotations

import socket
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from dnsbed import DnsTestServer

SCORING = "ep-main.eastus2.inference.ml.azure.com"
PRIVATELINK = "ep-main.0f1e2d3c.inference.eastus2.privatelink.api.azureml.ms"
ZONE = {
    SCORING: [("CNAME", PRIVATELINK)],
    "*.0f1e2d3c.inference.eastus2.privatelink.api.azureml.ms": [("A", "10.0.1.5")],
    "host.example.test": [("A", "192.0.2.10"), ("AAAA", "2001:db8::10"), ("TXT", "hello")],
}


@pytest.fixture
def server(dns_server):
    dns_server.set_records(ZONE)
    return dns_server


def resolver(server: DnsTestServer, lifetime: float = 2.0) -> dns.resolver.Resolver:
    """A resolver that asks only the test server, the way `--dns-server 127.0.0.1:PORT` configures one."""
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [server.host]
    res.port = server.port
    res.lifetime = lifetime
    return res


def ask(server: DnsTestServer, name: str, rtype: str = "A", transport=dns.query.udp) -> dns.message.Message:
    return transport(dns.message.make_query(name, rtype), server.host, port=server.port, timeout=2)


def test_listens_on_one_ephemeral_loopback_port_for_udp_and_tcp(server):
    assert server.host == "127.0.0.1" and server.port >= 1024
    assert server.address == f"127.0.0.1:{server.port}"
    assert ask(server, "host.example.test", transport=dns.query.udp).answer
    assert ask(server, "host.example.test", transport=dns.query.tcp).answer


def test_answers_a_aaaa_and_txt_with_default_ttl_10(server):
    answer = resolver(server).resolve("host.example.test", "A")
    assert [r.address for r in answer] == ["192.0.2.10"]
    assert answer.rrset.ttl == 10
    assert [r.address for r in resolver(server).resolve("host.example.test", "AAAA")] == ["2001:db8::10"]
    assert [r.strings for r in resolver(server).resolve("host.example.test", "TXT")] == [(b"hello",)]


def test_follows_the_cname_chain_into_a_wildcard_like_a_recursive_resolver(server):
    answer = resolver(server).resolve(SCORING, "A")
    assert [r.address for r in answer] == ["10.0.1.5"]
    assert answer.canonical_name.to_text() == PRIVATELINK + "."
    assert [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in answer.response.answer] == [
        (SCORING + ".", "CNAME"),
        (PRIVATELINK + ".", "A"),
    ]


def test_a_cname_query_gets_the_cname_only(server):
    assert [r.target.to_text() for r in resolver(server).resolve(SCORING, "CNAME")] == [PRIVATELINK + "."]


def test_names_are_case_insensitive_and_the_trailing_dot_is_optional(dns_server):
    dns_server.set_records({"Host.Example.Test.": [("A", "192.0.2.1")]})
    assert [r.address for r in resolver(dns_server).resolve("HOST.example.test", "A")] == ["192.0.2.1"]


def test_wildcards_match_deeper_names_unless_a_closer_name_exists(dns_server):
    dns_server.set_records({"*.zone.test": [("A", "192.0.2.1")], "x.zone.test": [("TXT", "x")]})
    res = resolver(dns_server)
    assert [r.address for r in res.resolve("a.zone.test", "A")] == ["192.0.2.1"]
    assert [r.address for r in res.resolve("b.a.zone.test", "A")] == ["192.0.2.1"]
    with pytest.raises(dns.resolver.NXDOMAIN):  # x.zone.test exists, so *.zone.test no longer covers below it
        res.resolve("b.x.zone.test", "A")


def test_unknown_name_is_nxdomain(server):
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver(server).resolve("nope.example.test", "A")


def test_cname_to_a_missing_name_is_nxdomain_with_the_cname_in_the_answer(dns_server):
    dns_server.set_records({"alias.test": [("CNAME", "gone.test")]})
    response = ask(dns_server, "alias.test")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME]


def test_existing_name_without_the_asked_type_is_an_empty_answer(server):
    with pytest.raises(dns.resolver.NoAnswer):
        resolver(server).resolve(PRIVATELINK, "AAAA")
    with pytest.raises(dns.resolver.NoAnswer):  # an empty non-terminal: exists because of names below it
        resolver(server).resolve("example.test", "A")


def test_servfail_and_refused_make_dnspython_give_up_on_the_server(server):
    server.servfail("host.example.test")
    server.refused("*.privatelink.api.azureml.ms")
    with pytest.raises(dns.resolver.NoNameservers):
        resolver(server).resolve("host.example.test", "A")
    assert ask(server, "host.example.test").rcode() == dns.rcode.SERVFAIL
    assert ask(server, PRIVATELINK).rcode() == dns.rcode.REFUSED


def test_a_behaviour_met_along_the_cname_chain_decides_the_answer(server):
    server.servfail(PRIVATELINK)
    response = ask(server, SCORING)
    assert response.rcode() == dns.rcode.SERVFAIL and not response.answer


def test_star_applies_a_behaviour_to_every_name_until_cleared(server):
    server.refused("*")
    assert ask(server, "host.example.test").rcode() == dns.rcode.REFUSED
    assert ask(server, "nope.example.test").rcode() == dns.rcode.REFUSED
    server.clear_behaviour("*")
    assert ask(server, "host.example.test").rcode() == dns.rcode.NOERROR


def test_silent_name_times_out_within_the_client_lifetime(server):
    server.silent(SCORING)
    started = time.monotonic()
    with pytest.raises(dns.resolver.LifetimeTimeout):
        resolver(server, lifetime=0.3).resolve(SCORING, "A")
    assert time.monotonic() - started < 0.6
    with pytest.raises(dns.exception.Timeout):  # over TCP too: the connection stays open, unanswered
        dns.query.tcp(dns.message.make_query(SCORING, "A"), server.host, port=server.port, timeout=0.2)


def test_tcp_answers_the_same_as_udp(server):
    assert ask(server, SCORING, transport=dns.query.tcp).answer == ask(server, SCORING).answer


def test_answers_too_large_for_udp_are_truncated_and_dnspython_retries_over_tcp(dns_server):
    dns_server.set_records({"big.test": [("A", f"10.0.{i // 250}.{i % 250}") for i in range(200)]})
    assert len(resolver(dns_server).resolve("big.test", "A")) == 200
    assert dns_server.queries == [("big.test", "A", "udp"), ("big.test", "A", "tcp")]


def test_query_log_records_name_type_and_transport_and_can_be_reset(server):
    ask(server, "HOST.example.test.", "TXT")
    ask(server, "nope.example.test", transport=dns.query.tcp)
    assert server.queries == [("host.example.test", "TXT", "udp"), ("nope.example.test", "A", "tcp")]
    server.reset_log()
    assert server.queries == []


def test_records_can_change_while_serving(server):
    server.add("new.example.test", "A", "192.0.2.7")
    assert [r.address for r in resolver(server).resolve("new.example.test")] == ["192.0.2.7"]
    server.remove("NEW.example.test.")
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver(server).resolve("new.example.test")


@pytest.mark.parametrize("rtype, value", [("MX", "mail.test"), ("A", "not-an-ip"), ("AAAA", "10.0.0.1")])
def test_bad_records_are_rejected_when_given(dns_server, rtype, value):
    with pytest.raises(ValueError):
        dns_server.add("x.test", rtype, value)


def test_stops_quickly_and_frees_its_port():
    with DnsTestServer({"a.test": [("A", "192.0.2.1")]}) as server:
        ask(server, "a.test", transport=dns.query.tcp)
        port = server.port
        started = time.monotonic()
    assert time.monotonic() - started < 0.5
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", port))
