"""Let's-Encrypt-style issuance inside a running Lab, and its snakeoil certificates."""
from __future__ import annotations

from labmail.net.certbot import Certbot
from labmail.net.certs import describe, load_certs
from labmail.net.tlsctx import inspect_tls


def test_certbot_against_the_lab_dns_and_ca(lab):
    host = lab.add_host("mail.example.com")
    lab.start()
    bot = Certbot(host.path("/etc/letsencrypt"), lab.ca, lab.dns, lab.resolver,
                  clock=lab.clock, ids=lab.ids)
    lineage = bot.certonly(["mail.example.com"])
    assert lineage.fullchain == host.path("/etc/letsencrypt/live/mail.example.com/fullchain.pem")
    leaf, inter = load_certs(lineage.fullchain)
    assert describe(leaf).sans == ("mail.example.com",) and inter == lab.ca.intermediate
    # the TLS client context the lab hands out trusts it
    ctx = lab.client_tls_context()
    leaf.verify_directly_issued_by(inter)
    assert ctx.get_ca_certs()[0]["subject"] == ((("organizationName", "Lab Encrypt"),),
                                                (("commonName", "Lab Root X1"),))


def test_every_host_serves_a_lab_ca_signed_snakeoil(lab):
    host = lab.add_host("mail.example.com")
    lab.start()
    ip, port = None, None
    for name, (addr, p) in host.endpoints.items():
        if name == "smtp":
            ip, port = addr, p
    assert port is not None
    report = inspect_tls(ip, port, starttls="smtp", cafile=lab.ca.root_path,
                         server_name="mail.example.com")
    assert report.level == "Verified", report.reason
    assert report.chain[0].sans == ("mail.example.com", "localhost")
