"""The node's seal on layout files: a PAdES signature (ETSI.CAdES.detached, SHA-256) made with
pyHanko under the node's ES256 (ECDSA P-256) key.

The certificate the signature carries is either given (from the node's configuration) or
made by `self_signed_certificate`, which is deterministic: the same key and common name give
the same certificate, byte for byte, in every worker process and after every restart, so the
certificate the node publishes stays the one its files are signed with.
"""
import hashlib
import io
from datetime import UTC, datetime

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

FIELD_NAME = "PiaojiaSeal"
REASON = "财政电子票据版式文件"
# Fixed so that the self-signed certificate is reproducible (see module docstring).
DEFAULT_NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)


def _as_bytes(value) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else bytes(value)


def self_signed_certificate(private_key, common_name: str, *, not_before: datetime = DEFAULT_NOT_BEFORE,
                            years: int = 10, organization: str = "Piaojia") -> bytes:
    """A self-signed ES256 certificate (PEM) for an EC P-256 private key: CN `common_name`,
    valid `years` years from `not_before`, key usage digitalSignature + nonRepudiation.
    Deterministic (RFC 6979 signature, serial derived from the key and the name)."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError("the node's layout key must be an EC P-256 key (ES256)")
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ])
    spki = private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    serial = int.from_bytes(hashlib.sha256(spki + common_name.encode()).digest()[:16], "big") >> 1 or 1
    not_after = not_before.replace(year=not_before.year + years)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
    )
    cert = builder.sign(private_key, hashes.SHA256(), ecdsa_deterministic=True)
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate's DER, hex."""
    cert = x509.load_pem_x509_certificate(_as_bytes(cert_pem))
    return cert.fingerprint(hashes.SHA256()).hex()


class NodeSigner:
    """Signs layout files with the node's key.

    `private_key_pem`: an unencrypted EC P-256 private key (PEM, str or bytes).
    `cert_pem`: its certificate; when None, `self_signed_certificate(key, common_name)`.
    """

    def __init__(self, private_key_pem, cert_pem=None, *, common_name: str = "Piaojia node",
                 field_name: str = FIELD_NAME, reason: str = REASON):
        key = serialization.load_pem_private_key(_as_bytes(private_key_pem), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("the node's layout key must be an EC P-256 key (ES256)")
        if cert_pem is None:
            cert_pem = self_signed_certificate(key, common_name)
        cert_pem = _as_bytes(cert_pem)
        cert = x509.load_pem_x509_certificate(cert_pem)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        if cert.public_key().public_bytes(serialization.Encoding.DER, spki) != \
                key.public_key().public_bytes(serialization.Encoding.DER, spki):
            raise ValueError("the certificate is not the private key's")
        self.cert_pem: bytes = cert.public_bytes(serialization.Encoding.PEM)
        self.fingerprint: str = cert.fingerprint(hashes.SHA256()).hex()
        self.field_name = field_name
        self.reason = reason
        signing_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        signing_key = asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self._signer = signers.SimpleSigner(
            signing_cert=signing_cert, signing_key=signing_key,
            cert_registry=SimpleCertificateStore.from_certs([signing_cert]),
        )

    def sign(self, pdf: bytes) -> bytes:
        """`pdf` with the node's PAdES signature appended as an incremental update (the
        signature covers the whole file as it then is)."""
        meta = signers.PdfSignatureMetadata(
            field_name=self.field_name, reason=self.reason, md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        out = io.BytesIO()
        # pyHanko's synchronous entry point (it runs its coroutine with asyncio.run, so call it
        # from a plain thread, as Flask does, not from inside an event loop).
        signers.sign_pdf(writer, meta, signer=self._signer, output=out)
        return out.getvalue()
