#!/usr/bin/env python3
"""Test certificates for the SMTP rig.

Usage: certs.py DIR

Writes into DIR (created if missing), every key an unencrypted EC P-256 PKCS#8 PEM:

  ca.crt / ca.key                     the test CA (the one clients trust)
  ca-bundle.pem                       the trust bundle to hand to clients (the test CA only)
  server.crt / server.key             leaf for DNS:localhost, IP:127.0.0.1, serverAuth, signed by the CA
  expired.crt / expired.key           same names, signed by the CA, notAfter one day in the past
  selfsigned.crt / selfsigned.key     same names, self-signed (no CA at all)
  wrongname.crt / wrongname.key       SAN DNS:wrong.example only, signed by the CA
  untrusted-ca.crt / untrusted-ca.key a second CA that nobody trusts
  untrusted.crt / untrusted.key       same names as server.crt, signed by the untrusted CA
  cnonly.crt / cnonly.key             CN=localhost and no subjectAltName at all, signed by the CA
  partialwildcard.crt / .key          SAN DNS:w*.example.test only (a partial wildcard), signed by the CA
  wildcard.crt / wildcard.key         SAN DNS:*.example.test only (a whole left-most label), signed by the CA

Every leaf file holds the leaf alone (no chain), so a client that trusts only ca-bundle.pem
fails for exactly one reason per variant:
  expired    -> "certificate has expired"            (X509_V_ERR_CERT_HAS_EXPIRED, 10)
  selfsigned -> "self-signed certificate"            (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, 18)
  wrongname  -> "hostname mismatch"                  (X509_V_ERR_HOSTNAME_MISMATCH, 62)
  untrusted  -> "unable to get local issuer certificate" (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 20)
RFC 9525 name matching (the client never looks at the subject CN, never at a partial wildcard):
  cnonly          -> refused for localhost (X509_V_ERR_HOSTNAME_MISMATCH), the CN is not an identifier
  partialwildcard -> refused for www.example.test (X509_V_ERR_HOSTNAME_MISMATCH)
  wildcard        -> accepted for mail.example.test, refused for example.test and a.b.example.test

Only the Python standard library and the `cryptography` package are used.
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
GOOD_NAMES = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def name(common_name):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtp-machine test rig"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def make_ca(common_name):
    key = new_key()
    subject = name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(common_name, sans, issuer=None, not_before=None, not_after=None):
    """A serverAuth leaf; issuer is (cert, key) or None for self-signed; sans None: no
    subjectAltName extension at all."""
    key = new_key()
    subject = name(common_name)
    if issuer is None:
        issuer_name, signing_key, issuer_public = subject, key, key.public_key()
    else:
        issuer_name, signing_key, issuer_public = issuer[0].subject, issuer[1], issuer[1].public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 825 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if sans is not None:
        cert = cert.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = (
        cert.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False)
        .sign(signing_key, hashes.SHA256())
    )
    return cert, key


def pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def write(path, data, mode):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def save(directory, stem, cert, key):
    write(os.path.join(directory, stem + ".crt"), pem_cert(cert), 0o644)
    write(os.path.join(directory, stem + ".key"), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), 0o600)


def main(argv):
    if len(argv) != 2:
        print("usage: certs.py DIR", file=sys.stderr)
        return 2
    directory = argv[1]
    os.makedirs(directory, exist_ok=True)

    ca = make_ca("smtp-machine rig test CA")
    other_ca = make_ca("smtp-machine rig UNTRUSTED CA")
    save(directory, "ca", *ca)
    save(directory, "untrusted-ca", *other_ca)
    write(os.path.join(directory, "ca-bundle.pem"), pem_cert(ca[0]), 0o644)

    save(directory, "server", *make_leaf("localhost", GOOD_NAMES, issuer=ca))
    save(directory, "expired", *make_leaf(
        "localhost", GOOD_NAMES, issuer=ca, not_before=NOW - 30 * DAY, not_after=NOW - DAY))
    save(directory, "selfsigned", *make_leaf("localhost", GOOD_NAMES, issuer=None))
    save(directory, "wrongname", *make_leaf(
        "wrong.example", [x509.DNSName("wrong.example")], issuer=ca))
    save(directory, "untrusted", *make_leaf("localhost", GOOD_NAMES, issuer=other_ca))
    save(directory, "cnonly", *make_leaf("localhost", None, issuer=ca))
    save(directory, "partialwildcard", *make_leaf(
        "w*.example.test", [x509.DNSName("w*.example.test")], issuer=ca))
    save(directory, "wildcard", *make_leaf("*.example.test", [x509.DNSName("*.example.test")], issuer=ca))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
