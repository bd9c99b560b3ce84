"""SM2 signatures with SM3 (GB/T 32918.2 / GM/T 0003.2, GB/T 32905 / GM/T 0004).

The arithmetic, the random k and SM3 are GmSSL's (the reference implementation, through
the `gmssl-pyx` C extension); this module only frames it the way the rest of Piaojia
needs it:

- signatures are raw r‖s, 64 bytes (as ES256 here), over e = SM3(Z_A ‖ M), with
  Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) and the signer id `ID` defaulting to
  1234567812345678 (GM/T 0009);
- public keys are PEM SubjectPublicKeyInfo (id-ecPublicKey, namedCurve sm2p256v1
  1.2.156.10197.1.301, as OpenSSL 3 writes them) or, for convenience, hex 04‖x‖y;
  private keys PEM PKCS#8 (or SEC1 "EC PRIVATE KEY") on the same curve.

`sign` and `verify` raise ValueError for an unusable key or signer id; `verify` answers
False, never raises, for any signature that is not a valid one.
"""
import binascii
from dataclasses import dataclass

import gmssl_pyx
from asn1crypto import core, keys, pem
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

# The recommended curve (GB/T 32918.5, GM/T 0003.5): y² = x³ + ax + b over F_p, order n.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

CURVE_OID = "1.2.156.10197.1.301"  # sm2p256v1
DEFAULT_SIGNER_ID = b"1234567812345678"
MAX_SIGNER_ID_BYTES = 8191  # ENTL is the id's length in bits, two bytes
SIGNATURE_BYTES = 64


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905), 32 bytes."""
    return gmssl_pyx.sm3_hash(bytes(data))


def _b32(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


@dataclass(frozen=True)
class SM2PublicKey:
    x: int
    y: int

    def __post_init__(self):
        if not _on_curve(self.x, self.y):
            raise ValueError("not a point of the SM2 curve")

    @classmethod
    def from_bytes(cls, data: bytes) -> "SM2PublicKey":
        """04‖x‖y (65 bytes) or x‖y (64 bytes)."""
        if len(data) == 65 and data[0] == 4:
            data = data[1:]
        if len(data) != 64:
            raise ValueError("an SM2 public key is 04‖x‖y, 65 bytes")
        return cls(int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big"))

    def to_bytes(self) -> bytes:
        """Uncompressed SEC1 point 04‖x‖y."""
        return b"\x04" + _b32(self.x) + _b32(self.y)

    def to_der(self) -> bytes:
        return keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters("named", CURVE_OID)},
            "public_key": self.to_bytes(),
        }).dump()

    def to_pem(self) -> str:
        return pem.armor("PUBLIC KEY", self.to_der()).decode("ascii")


class _PrivateKeyInfo(core.Sequence):
    """PKCS#8 as asn1crypto's PrivateKeyInfo, without its key-size hook, which needs the
    curve registered in asn1crypto's global table (the key is padded to 32 bytes here)."""
    _fields = [("version", core.Integer), ("private_key_algorithm", keys.PrivateKeyAlgorithm), ("private_key", core.OctetString)]


@dataclass(frozen=True, repr=False)
class SM2PrivateKey:
    d: int
    public_key: SM2PublicKey

    def __post_init__(self):
        if not 1 <= self.d <= N - 2:
            raise ValueError("an SM2 private key is an integer in [1, n-2]")

    def __repr__(self):
        return f"SM2PrivateKey(public_key={self.public_key!r})"

    @classmethod
    def generate(cls) -> "SM2PrivateKey":
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(int.from_bytes(private, "big"), SM2PublicKey.from_bytes(public))

    @classmethod
    def from_int(cls, d: int) -> "SM2PrivateKey":
        if not 1 <= d <= N - 2:
            raise ValueError("an SM2 private key is an integer in [1, n-2]")
        return cls(d, SM2PublicKey(*_base_mult(d)))

    def to_der(self) -> bytes:
        """PKCS#8 PrivateKeyInfo, as `openssl genpkey -algorithm SM2` writes it."""
        secret = keys.IntegerOctetString(self.d)
        secret.set_encoded_width(32)  # RFC 5915: always 32 bytes, leading zeros kept
        inner = keys.ECPrivateKey({"version": "ecPrivkeyVer1", "private_key": secret,
                                   "public_key": self.public_key.to_bytes()})
        return _PrivateKeyInfo({
            "version": 0,
            "private_key_algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters("named", CURVE_OID)},
            "private_key": inner.dump(),
        }).dump()

    def to_pem(self) -> str:
        return pem.armor("PRIVATE KEY", self.to_der()).decode("ascii")


def _base_mult(d: int) -> tuple[int, int]:
    """d·G in affine coordinates, to derive a public key from a private key read alone.
    Not constant-time: used only when loading a key, never per signature."""
    result, addend = None, (GX, GY)
    while d:
        if d & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        d >>= 1
    return result


def _add(p1, p2):
    if p1 is None:
        return p2
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _curve_of(algorithm) -> None:
    if algorithm["algorithm"].native != "ec":
        raise ValueError("not an elliptic-curve key")
    params = algorithm["parameters"]
    if params.name != "named" or params.chosen.dotted != CURVE_OID:
        raise ValueError("not a key of the SM2 curve (namedCurve 1.2.156.10197.1.301)")


def load_public_key(value) -> SM2PublicKey:
    """An SM2 public key from PEM SubjectPublicKeyInfo, hex 04‖x‖y, or bytes 04‖x‖y."""
    if isinstance(value, SM2PublicKey):
        return value
    if isinstance(value, (bytes, bytearray)):
        if not bytes(value).lstrip().startswith(b"-----BEGIN"):
            return SM2PublicKey.from_bytes(bytes(value))
        value = bytes(value).decode("ascii", "replace")
    if not isinstance(value, str):
        raise ValueError("an SM2 public key is PEM or hex 04‖x‖y")
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        try:
            return SM2PublicKey.from_bytes(binascii.unhexlify(text))
        except binascii.Error:
            raise ValueError("an SM2 public key is PEM or hex 04‖x‖y") from None
    try:
        kind, _, der = pem.unarmor(text.encode("ascii"))
        if kind != "PUBLIC KEY":
            raise ValueError(f"a PEM PUBLIC KEY is needed, not {kind}")
        info = keys.PublicKeyInfo.load(der, strict=True)
        _curve_of(info["algorithm"])
        return SM2PublicKey.from_bytes(bytes(info["public_key"]))
    except ValueError:
        raise
    except Exception as exc:  # asn1crypto's parse errors are of several kinds
        raise ValueError(f"not an SM2 SubjectPublicKeyInfo: {exc}") from None


def load_private_key(value) -> SM2PrivateKey:
    """An SM2 private key from PEM (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY")."""
    if isinstance(value, SM2PrivateKey):
        return value
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii", "replace")
    try:
        kind, _, der = pem.unarmor(value.strip().encode("ascii"))
        if kind == "PRIVATE KEY":
            info = keys.PrivateKeyInfo.load(der, strict=True)
            _curve_of(info["private_key_algorithm"])
            ec_key = info["private_key"].parsed
        elif kind == "EC PRIVATE KEY":
            ec_key = keys.ECPrivateKey.load(der, strict=True)
            if ec_key["parameters"].native is not None:
                params = ec_key["parameters"]
                if params.name != "named" or params.chosen.dotted != CURVE_OID:
                    raise ValueError("not a key of the SM2 curve (namedCurve 1.2.156.10197.1.301)")
            else:
                raise ValueError("a SEC1 key must name its curve")
        else:
            raise ValueError(f"a PEM PRIVATE KEY is needed, not {kind}")
        d = ec_key["private_key"].native
        stated = ec_key["public_key"].native
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"not an SM2 private key: {exc}") from None
    key = SM2PrivateKey.from_int(d)
    if stated is not None and SM2PublicKey.from_bytes(bytes(stated)) != key.public_key:
        raise ValueError("the private key's stated public key is not its own")
    return key


def generate_private_key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def _signer_id(signer_id) -> bytes:
    if isinstance(signer_id, str):
        signer_id = signer_id.encode("utf-8")
    if not isinstance(signer_id, (bytes, bytearray)) or not 1 <= len(signer_id) <= MAX_SIGNER_ID_BYTES:
        raise ValueError(f"the signer id is 1..{MAX_SIGNER_ID_BYTES} bytes")
    return bytes(signer_id)


def z_a(public_key, signer_id=DEFAULT_SIGNER_ID) -> bytes:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2 §5.5)."""
    key = load_public_key(public_key)
    ident = _signer_id(signer_id)
    return sm3((len(ident) * 8).to_bytes(2, "big") + ident + b"".join(map(_b32, (A, B, GX, GY, key.x, key.y))))


def digest(public_key, message: bytes, signer_id=DEFAULT_SIGNER_ID) -> bytes:
    """e = SM3(Z_A ‖ M), what an SM2 signature signs (as bytes; the standard's e is its integer)."""
    return sm3(z_a(public_key, signer_id) + bytes(message))


def sign(private_key, message: bytes, signer_id=DEFAULT_SIGNER_ID) -> bytes:
    """SM2 signature r‖s (64 bytes) of `message` by `private_key` (SM2PrivateKey or PEM),
    Z_A computed with `signer_id`; k is GmSSL's, from the system's random source."""
    key = load_private_key(private_key)
    der = gmssl_pyx.sm2_sign(_b32(key.d), key.public_key.to_bytes()[1:], bytes(message), signer_id=_signer_id(signer_id))
    r, s = decode_dss_signature(der)
    return _b32(r) + _b32(s)


def verify(public_key, message: bytes, signature: bytes, signer_id=DEFAULT_SIGNER_ID) -> bool:
    """True when `signature` (r‖s, 64 bytes) is `public_key`'s SM2 signature of `message`
    with `signer_id`."""
    key = load_public_key(public_key)
    ident = _signer_id(signer_id)
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != SIGNATURE_BYTES:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return False
    try:
        return bool(gmssl_pyx.sm2_verify(key.to_bytes()[1:], bytes(message), encode_dss_signature(r, s), signer_id=ident))
    except gmssl_pyx.GmsslInnerError:
        return False
