"""--banners TLS facts: rawscan's DER reader (rawscan/banners/x509.py) against certificates
openssl makes, read back by openssl itself; damaged DER is refused, never a crash."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan.banners.x509 import MAX_SANS, CertificateError, parse_certificate

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def make_certificate(directory: Path, subject: str, sans: list[str], days: int = 3) -> tuple[Path, Path]:
    """A self-signed EC certificate and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", subject]
    if sans:
        argv += ["-addext", "subjectAltName=" + ",".join(sans)]
    argv += ["-days", str(days)]
    subprocess.run(argv, check=True, capture_output=True, timeout=30)
    return cert, key


def der_of(cert: Path) -> bytes:
    return subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"], check=True,
                          capture_output=True, timeout=30).stdout


def openssl_facts(cert: Path) -> dict[str, str]:
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-dates", "-fingerprint",
                          "-sha256", "-nameopt", "RFC2253"], check=True, capture_output=True,
                         text=True, timeout=30).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def iso(openssl_date: str) -> str:
    import datetime

    when = datetime.datetime.strptime(openssl_date, "%b %d %H:%M:%S %Y GMT")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_facts_match_openssl(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path, "/CN=lab.test/O=Rawscan Lab/C=ZZ",
                               ["DNS:lab.test", "DNS:www.lab.test", "IP:198.18.0.2", "IP:2001:2::2"])
    der = der_of(cert)
    facts = parse_certificate(der)
    want = openssl_facts(cert)
    assert facts.subject_cn == "lab.test"
    assert facts.subject == "CN=lab.test, O=Rawscan Lab, C=ZZ"
    assert facts.issuer == facts.subject  # self-signed
    assert facts.sans == ("DNS:lab.test", "DNS:www.lab.test", "IP:198.18.0.2", "IP:2001:2::2")
    assert facts.san_count == 4
    assert facts.not_before == iso(want["notBefore"])
    assert facts.not_after == iso(want["notAfter"])
    assert facts.sha256 == want["sha256 Fingerprint"].replace(":", "").lower()
    assert facts.sha256 == hashlib.sha256(der).hexdigest()


def test_absurd_san_list_is_capped(tmp_path: Path) -> None:
    names = [f"DNS:{'x' * 60}-{i}.lab.test" for i in range(300)]
    cert, _ = make_certificate(tmp_path, "/CN=many.lab.test", names)
    facts = parse_certificate(der_of(cert))
    assert facts.san_count == 300
    assert len(facts.sans) == MAX_SANS
    assert facts.sans[0] == names[0]


def test_hostile_name_text_is_escaped(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path, "/CN=evilQQQQQQ.lab.test", [])
    der = der_of(cert).replace(b"QQQQQQ", b"\x1b[2J\x07x")  # same length: the DER stays whole
    facts = parse_certificate(der)
    assert facts.subject_cn is not None and "\x1b" not in facts.subject_cn
    assert facts.subject_cn.startswith("evil\\x1b[2J\\x07x")


@pytest.fixture(scope="module")
def sample_der(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    cert, _ = make_certificate(tmp_path_factory.mktemp("x509"), "/CN=fuzz.lab.test",
                               ["DNS:fuzz.lab.test", "IP:198.18.0.2"])
    return der_of(cert)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_damaged_der_is_refused_not_crashed(sample_der: bytes, data: st.DataObject) -> None:
    der = bytearray(sample_der)
    for _ in range(data.draw(st.integers(1, 6))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(der)))
    try:
        facts = parse_certificate(bytes(der[:cut]) if data.draw(st.booleans()) else bytes(der))
    except CertificateError:
        return
    assert isinstance(facts.subject, str) and isinstance(facts.sans, tuple)


@pytest.mark.parametrize("junk", [b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x02\x01\x00",
                                  b"\x1f\x00", b"\x30\x80\x00\x00"])
def test_garbage_is_a_certificate_error(junk: bytes) -> None:
    with pytest.raises(CertificateError):
        parse_certificate(junk)
