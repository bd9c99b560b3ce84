"""SM2 with SM3 (backend.receipts.sm2) against the published vectors and a second,
independent implementation written here from the standards.

- SM3: GB/T 32905-2016 Appendix A ("abc", and the 512-bit "abcd"×16).
- SM2 on the recommended curve: GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A (the
  signature example, ID 1234567812345678, "message digest").
- SM2 on the standard's 256-bit test curve: GM/T 0003.2-2012 Annex A.2 (ID
  ALICE123@YAHOO.COM, "message digest"). GmSSL works on the recommended curve only, so
  this one checks the independent implementation, which then checks the adapter.

The independent implementation (`Ref` below): Jacobian-coordinate arithmetic on any
short-Weierstrass curve, signing and verifying per GB/T 32918.2 §6–7, and OpenSSL's SM3
(through `cryptography`), not GmSSL's.
"""
import hashlib
import secrets
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from backend.common.crypto import b64url_encode
from backend.receipts import signing, sm2

MESSAGE = b"message digest"


def openssl_sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


# ---------------------------------------------------------------- the independent implementation

@dataclass(frozen=True)
class Curve:
    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int


SM2_CURVE = Curve(  # GB/T 32918.5 recommended parameters, typed again from the standard
    p=int("FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF 00000000 FFFFFFFF FFFFFFFF".replace(" ", ""), 16),
    a=int("FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF 00000000 FFFFFFFF FFFFFFFC".replace(" ", ""), 16),
    b=int("28E9FA9E 9D9F5E34 4D5A9E4B CF6509A7 F39789F5 15AB8F92 DDBCBD41 4D940E93".replace(" ", ""), 16),
    n=int("FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF 7203DF6B 21C6052B 53BBF409 39D54123".replace(" ", ""), 16),
    gx=int("32C4AE2C 1F198119 5F990446 6A39C994 8FE30BBF F2660BE1 715A4589 334C74C7".replace(" ", ""), 16),
    gy=int("BC3736A2 F4F6779C 59BDCEE3 6B692153 D0A9877C C62A4740 02DF32E5 2139F0A0".replace(" ", ""), 16),
)

TEST_CURVE = Curve(  # GM/T 0003.2-2012 Annex A.2, the Fp-256 example curve
    p=int("8542D69E 4C044F18 E8B92435 BF6FF7DE 45728391 5C45517D 722EDB8B 08F1DFC3".replace(" ", ""), 16),
    a=int("787968B4 FA32C3FD 2417842E 73BBFEFF 2F3C848B 6831D7E0 EC65228B 3937E498".replace(" ", ""), 16),
    b=int("63E4C6D3 B23B0C84 9CF84241 484BFE48 F61D59A5 B16BA06E 6E12D1DA 27C5249A".replace(" ", ""), 16),
    n=int("8542D69E 4C044F18 E8B92435 BF6FF7DD 29772063 0485628D 5AE74EE7 C32E79B7".replace(" ", ""), 16),
    gx=int("421DEBD6 1B62EAB6 746434EB C3CC315E 32220B3B ADD50BDC 4C4E6C14 7FEDD43D".replace(" ", ""), 16),
    gy=int("0680512B CBB42C07 D47349D2 153B70C4 E5D7FDFC BFA36EA1 A85841B9 E46E09A2".replace(" ", ""), 16),
)


class Ref:
    """SM2 from GB/T 32918.2, on Jacobian coordinates (X, Y, Z) ~ (X/Z², Y/Z³); None is O."""

    def __init__(self, curve: Curve, hash_fn=openssl_sm3):
        self.c = curve
        self.hash = hash_fn

    def _double(self, P):
        if P is None:
            return None
        p = self.c.p
        X, Y, Z = P
        if Y == 0:
            return None
        Y2 = Y * Y % p
        S = 4 * X * Y2 % p
        M = (3 * X * X + self.c.a * pow(Z, 4, p)) % p
        X3 = (M * M - 2 * S) % p
        return X3, (M * (S - X3) - 8 * Y2 * Y2) % p, 2 * Y * Z % p

    def _add(self, P, Q):
        if P is None:
            return Q
        if Q is None:
            return P
        p = self.c.p
        X1, Y1, Z1 = P
        X2, Y2, Z2 = Q
        Z1s, Z2s = Z1 * Z1 % p, Z2 * Z2 % p
        U1, U2 = X1 * Z2s % p, X2 * Z1s % p
        S1, S2 = Y1 * Z2s * Z2 % p, Y2 * Z1s * Z1 % p
        if U1 == U2:
            return self._double(P) if S1 == S2 else None
        H, R = (U2 - U1) % p, (S2 - S1) % p
        H2 = H * H % p
        H3 = H2 * H % p
        X3 = (R * R - H3 - 2 * U1 * H2) % p
        return X3, (R * (U1 * H2 - X3) - S1 * H3) % p, H * Z1 * Z2 % p

    def mult(self, k: int, point):
        result, addend = None, (point[0], point[1], 1)
        while k:
            if k & 1:
                result = self._add(result, addend)
            addend = self._double(addend)
            k >>= 1
        return self.affine(result)

    def affine(self, P):
        if P is None:
            return None
        p = self.c.p
        zi = pow(P[2], -1, p)
        return P[0] * zi * zi % p, P[1] * zi * zi * zi % p

    def add_affine(self, P, Q):
        return self.affine(self._add(None if P is None else (*P, 1), None if Q is None else (*Q, 1)))

    def public_key(self, d: int):
        return self.mult(d, (self.c.gx, self.c.gy))

    def za(self, ident: bytes, pub) -> bytes:
        parts = [self.c.a, self.c.b, self.c.gx, self.c.gy, pub[0], pub[1]]
        return self.hash((len(ident) * 8).to_bytes(2, "big") + ident + b"".join(v.to_bytes(32, "big") for v in parts))

    def e(self, ident: bytes, pub, message: bytes) -> int:
        return int.from_bytes(self.hash(self.za(ident, pub) + message), "big")

    def sign_e(self, d: int, e: int, k: int | None = None) -> tuple[int, int]:
        n = self.c.n
        while True:
            kk = k if k is not None else secrets.randbelow(n - 1) + 1
            x1, _ = self.mult(kk, (self.c.gx, self.c.gy))
            r = (e + x1) % n
            if r == 0 or r + kk == n:
                assert k is None
                continue
            s = pow(1 + d, -1, n) * (kk - r * d) % n
            if s == 0:
                assert k is None
                continue
            return r, s

    def sign(self, d: int, message: bytes, ident: bytes = sm2.DEFAULT_SIGNER_ID, k=None) -> tuple[int, int]:
        return self.sign_e(d, self.e(ident, self.public_key(d), message), k)

    def verify(self, pub, message: bytes, rs, ident: bytes = sm2.DEFAULT_SIGNER_ID) -> bool:
        n = self.c.n
        r, s = rs
        if not (1 <= r < n and 1 <= s < n):
            return False
        t = (r + s) % n
        if t == 0:
            return False
        point = self.add_affine(self.mult(s, (self.c.gx, self.c.gy)), self.mult(t, pub))
        return point is not None and (self.e(ident, pub, message) + point[0]) % n == r


REF = Ref(SM2_CURVE)


def raw(rs) -> bytes:
    return rs[0].to_bytes(32, "big") + rs[1].to_bytes(32, "big")


def split(sig: bytes) -> tuple[int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")


def h(text: str) -> int:
    return int(text.replace(" ", ""), 16)


# ---------------------------------------------------------------- SM3 (GB/T 32905)

SM3_VECTORS = [
    (b"abc", "66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0"),
    (b"abcd" * 16, "debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732"),
]


@pytest.mark.parametrize("message,expected", SM3_VECTORS)
def test_sm3_published_vectors(message, expected):
    assert sm2.sm3(message).hex() == expected.replace(" ", "")
    assert openssl_sm3(message).hex() == expected.replace(" ", "")  # the reference's SM3 agrees


def test_sm3_agrees_with_openssl_on_many_lengths():
    for length in (0, 1, 55, 56, 63, 64, 65, 119, 128, 1000):
        data = secrets.token_bytes(length)
        assert sm2.sm3(data) == openssl_sm3(data)


# ---------------------------------------------------------------- the published SM2 examples

# GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A: recommended curve, ID 1234567812345678.
STD_D = h("3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8")
STD_PUB = (h("09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020"),
           h("CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13"))
STD_K = h("59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21")
STD_ZA = "B2E14C5C 79C6DF5B 85F4FE7E D8DB7A26 2B9DA7E0 7CCB0EA9 F4747B8C CDA8A4F3"
STD_E = "F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640"
STD_RS = (h("F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3"),
          h("B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA"))


def test_recommended_curve_example_z_a_e_and_key():
    key = sm2.SM2PrivateKey.from_int(STD_D)
    assert (key.public_key.x, key.public_key.y) == STD_PUB
    assert sm2.z_a(key.public_key).hex().upper() == STD_ZA.replace(" ", "")
    assert sm2.digest(key.public_key, MESSAGE).hex().upper() == STD_E.replace(" ", "")
    # the independent implementation computes the same
    assert REF.public_key(STD_D) == STD_PUB
    assert REF.za(b"1234567812345678", STD_PUB).hex().upper() == STD_ZA.replace(" ", "")
    assert REF.e(b"1234567812345678", STD_PUB, MESSAGE) == h(STD_E)


def test_recommended_curve_example_signature():
    # GmSSL takes k from the system's random source, so the adapter cannot be given the
    # standard's k: it verifies the published (r, s); the reference reproduces it with k.
    assert sm2.verify(sm2.SM2PublicKey(*STD_PUB), MESSAGE, raw(STD_RS))
    assert REF.sign(STD_D, MESSAGE, k=STD_K) == STD_RS
    assert REF.verify(STD_PUB, MESSAGE, STD_RS)
    # and refuses it for another ID, message or key
    assert not sm2.verify(sm2.SM2PublicKey(*STD_PUB), MESSAGE, raw(STD_RS), signer_id=b"ALICE123@YAHOO.COM")
    assert not sm2.verify(sm2.SM2PublicKey(*STD_PUB), b"message digesT", raw(STD_RS))
    assert not sm2.verify(sm2.generate_private_key().public_key, MESSAGE, raw(STD_RS))


def test_test_curve_example_of_gmt_0003_2():
    """GM/T 0003.2-2012 Annex A.2 on its Fp-256 example curve, with every intermediate value."""
    ref = Ref(TEST_CURVE)
    d = h("128B2FA8 BD433C6C 068C8D80 3DFF7979 2A519A55 171B1B65 0C23661D 15897263")
    pub = ref.public_key(d)
    assert pub == (h("0AE4C779 8AA0F119 471BEE11 825BE462 02BB79E2 A5844495 E97C04FF 4DF2548A"),
                   h("7C0240F8 8F1CD4E1 6352A73C 17B7F16F 07353E53 A176D684 A9FE0C6B B798E857"))
    ident = b"ALICE123@YAHOO.COM"
    assert ref.za(ident, pub).hex().upper() == "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A"
    assert ref.e(ident, pub, MESSAGE) == h("B524F552 CD82B8B0 28476E00 5C377FB1 9A87E6FC 682D48BB 5D42E3D9 B9EFFE76")
    k = h("6CB28D99 385C175C 94F94E93 4817663F C176D925 DD72B727 260DBAAE 1FB2F96F")
    rs = ref.sign(d, MESSAGE, ident, k=k)
    assert rs == (h("40F1EC59 F793D9F4 9E09DCEF 49130D41 94F79FB1 EED2CAA5 5BACDB49 C4E755D1"),
                  h("6FC6DAC3 2C5D5CF1 0C77DFB2 0F7C2EB6 67A45787 2FB09EC5 6327A67E C7DEEBE7"))
    assert ref.verify(pub, MESSAGE, rs, ident)
    assert not ref.verify(pub, MESSAGE, rs, b"1234567812345678")


# ---------------------------------------------------------------- cross-implementation

@pytest.mark.parametrize("ident", [sm2.DEFAULT_SIGNER_ID, b"ALICE123@YAHOO.COM", "三亚中心医院".encode()])
def test_reference_signatures_verify_with_the_adapter_and_back(ident):
    for _ in range(4):
        d = secrets.randbelow(SM2_CURVE.n - 2) + 1
        key = sm2.SM2PrivateKey.from_int(d)
        pub = REF.public_key(d)
        assert (key.public_key.x, key.public_key.y) == pub
        message = secrets.token_bytes(secrets.randbelow(300))
        assert sm2.verify(key.public_key, message, raw(REF.sign(d, message, ident)), signer_id=ident)
        assert REF.verify(pub, message, split(sm2.sign(key, message, signer_id=ident)), ident)


def test_library_generated_keys_sign_for_the_reference():
    key = sm2.generate_private_key()
    assert REF.public_key(key.d) == (key.public_key.x, key.public_key.y)
    sig = sm2.sign(key, b"receipt")
    assert len(sig) == 64 and REF.verify((key.public_key.x, key.public_key.y), b"receipt", split(sig))
    assert sm2.sign(key, b"receipt") != sig  # a fresh k each time


def test_z_a_of_the_adapter_is_what_gmssl_signs():
    key = sm2.generate_private_key()
    sig = sm2.sign(key, b"payload", signer_id=b"ALICE123@YAHOO.COM")
    e = int.from_bytes(sm2.digest(key.public_key, b"payload", signer_id=b"ALICE123@YAHOO.COM"), "big")
    assert REF.e(b"ALICE123@YAHOO.COM", (key.public_key.x, key.public_key.y), b"payload") == e
    rs = (int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    assert REF.verify((key.public_key.x, key.public_key.y), b"payload", rs, b"ALICE123@YAHOO.COM")  # GmSSL signed that e


# ---------------------------------------------------------------- refusals

@pytest.fixture(scope="module")
def pair():
    d = secrets.randbelow(SM2_CURVE.n - 2) + 1
    return d, sm2.SM2PrivateKey.from_int(d)


def test_wrong_signer_id_is_refused(pair):
    d, key = pair
    assert not sm2.verify(key.public_key, MESSAGE, raw(REF.sign(d, MESSAGE, b"ALICE123@YAHOO.COM")))
    assert not sm2.verify(key.public_key, MESSAGE, sm2.sign(key, MESSAGE), signer_id=b"1234567812345679")
    assert not REF.verify((key.public_key.x, key.public_key.y), MESSAGE, split(sm2.sign(key, MESSAGE, signer_id=b"other")))


@pytest.mark.parametrize("wrong_e", [
    lambda pub, m: openssl_sm3(m),  # SM3 of the message alone, without Z_A
    lambda pub, m: hashlib.sha256(REF.za(sm2.DEFAULT_SIGNER_ID, pub) + m).digest(),  # SHA-256 in place of SM3
    lambda pub, m: hashlib.sha256(m).digest(),
    lambda pub, m: openssl_sm3(m + REF.za(sm2.DEFAULT_SIGNER_ID, pub)),  # Z_A after M
])
def test_signatures_over_another_digest_are_refused(pair, wrong_e):
    d, key = pair
    pub = (key.public_key.x, key.public_key.y)
    rs = REF.sign_e(d, int.from_bytes(wrong_e(pub, MESSAGE), "big"))
    assert not sm2.verify(key.public_key, MESSAGE, raw(rs))


def test_flipped_bits_and_malformed_signatures_are_refused(pair):
    d, key = pair
    sig = sm2.sign(key, MESSAGE)
    assert sm2.verify(key.public_key, MESSAGE, sig)
    for i in (0, 17, 31, 32, 50, 63):
        flipped = bytearray(sig)
        flipped[i] ^= 0x01
        assert not sm2.verify(key.public_key, MESSAGE, bytes(flipped))
    assert not sm2.verify(key.public_key, b"message digesu", sig)
    r, s = split(sig)
    n = SM2_CURVE.n
    for bad in (raw((0, s)), raw((r, 0)), raw((r + n, s)) if r + n < 2**256 else raw((n, s)), raw((r, n)),
                sig[:63], sig + b"\x00", b"", encode_dss_signature(r, s)):
        assert not sm2.verify(key.public_key, MESSAGE, bad)
    assert not sm2.verify(sm2.generate_private_key().public_key, MESSAGE, sig)


def test_signer_id_limits():
    key = sm2.generate_private_key()
    with pytest.raises(ValueError):
        sm2.sign(key, MESSAGE, signer_id=b"")
    with pytest.raises(ValueError):
        sm2.verify(key.public_key, MESSAGE, b"\x01" * 64, signer_id=b"x" * 8192)
    long_id = b"x" * 8191  # ENTL = 65528 bits, the largest
    assert REF.verify((key.public_key.x, key.public_key.y), MESSAGE, split(sm2.sign(key, MESSAGE, signer_id=long_id)), long_id)


# ---------------------------------------------------------------- keys

SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d03420004")


def test_public_key_pem_is_id_ec_public_key_on_the_sm2_curve():
    key = sm2.generate_private_key().public_key
    der = key.to_der()
    assert der.startswith(SPKI_PREFIX) and len(der) == len(SPKI_PREFIX) + 64
    assert key.to_pem().startswith("-----BEGIN PUBLIC KEY-----\n")
    assert sm2.load_public_key(key.to_pem()) == key
    assert sm2.load_public_key(key.to_bytes().hex()) == key
    assert sm2.load_public_key(key.to_bytes().hex().upper()) == key
    assert sm2.load_public_key(key.to_bytes()) == key


def test_private_key_pem_round_trip_keeps_leading_zeros():
    for key in (sm2.generate_private_key(), sm2.SM2PrivateKey.from_int(5)):
        pem = key.to_pem()
        assert pem.startswith("-----BEGIN PRIVATE KEY-----\n")
        assert sm2.load_private_key(pem) == key
    assert bytes(32 - 1) + b"\x05" in sm2.SM2PrivateKey.from_int(5).to_der()
    assert "d=" not in repr(sm2.SM2PrivateKey.from_int(5)) and "5," not in repr(sm2.SM2PrivateKey.from_int(5))


def test_keys_that_are_not_sm2_keys_are_refused():
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_pem = p256.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    good = sm2.generate_private_key().public_key
    off_curve = "04" + good.x.to_bytes(32, "big").hex() + ((good.y + 1) % SM2_CURVE.p).to_bytes(32, "big").hex()
    for bad in (p256_pem, "not a key", "", off_curve, good.to_bytes().hex()[2:-2], "02" + good.x.to_bytes(32, "big").hex(),
                good.to_pem().replace("PUBLIC KEY", "PRIVATE KEY"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
        with pytest.raises(ValueError):
            sm2.load_public_key(bad)
    p256_private = p256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ValueError):
        sm2.load_private_key(p256_private)
    for d in (0, SM2_CURVE.n - 1, SM2_CURVE.n):
        with pytest.raises(ValueError):
            sm2.SM2PrivateKey.from_int(d)


def test_private_key_with_another_stated_public_key_is_refused():
    from asn1crypto import core, keys as asn1keys, pem

    class Sec1(core.Sequence):  # RFC 5915 ECPrivateKey, without asn1crypto's curve-size hook
        _fields = [("version", core.Integer), ("private_key", core.OctetString),
                   ("parameters", asn1keys.ECDomainParameters, {"explicit": 0, "optional": True}),
                   ("public_key", asn1keys.ECPointBitString, {"explicit": 1, "optional": True})]

    key, other = sm2.generate_private_key(), sm2.generate_private_key()

    def sec1(**fields):
        der = Sec1({"version": 1, "private_key": key.d.to_bytes(32, "big"), **fields}).dump()
        return pem.armor("EC PRIVATE KEY", der).decode()

    named = asn1keys.ECDomainParameters("named", sm2.CURVE_OID)
    assert sm2.load_private_key(sec1(parameters=named, public_key=key.public_key.to_bytes())) == key
    assert sm2.load_private_key(sec1(parameters=named)) == key  # no public key stated: derived
    with pytest.raises(ValueError):  # a public key that is not its own
        sm2.load_private_key(sec1(parameters=named, public_key=other.public_key.to_bytes()))
    with pytest.raises(ValueError):  # no curve named
        sm2.load_private_key(sec1(public_key=key.public_key.to_bytes()))
    with pytest.raises(ValueError):  # another curve
        sm2.load_private_key(sec1(parameters=asn1keys.ECDomainParameters("named", "secp256r1")))


# ---------------------------------------------------------------- signing.py

def test_issuer_signature_dispatches_on_alg():
    key = sm2.generate_private_key()
    sm2_pem = key.public_key.to_pem()
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_pem = p256.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    canonical = signing.canonical_bytes({"code": "46060125", "number": "0000000001", "total_amount": "1.00"})
    sm2_sig = {"alg": "SM2", "value": signing.sign_sm2(key, canonical)}
    es_sig = {"alg": "ES256", "value": signing.sign_es256(p256, canonical)}
    assert signing.verify_issuer_signature(sm2_pem, "SM2", canonical, sm2_sig)
    assert signing.verify_issuer_signature(p256_pem, "ES256", canonical, es_sig)
    # a key of one alg never verifies a signature of another, whatever the label says
    assert not signing.verify_issuer_signature(sm2_pem, "SM2", canonical, es_sig)
    assert not signing.verify_issuer_signature(sm2_pem, "SM2", canonical, {**sm2_sig, "alg": "ES256"})
    assert not signing.verify_issuer_signature(p256_pem, "ES256", canonical, sm2_sig)
    assert not signing.verify_issuer_signature(p256_pem, "ES256", canonical, {**sm2_sig, "alg": "ES256"})
    assert not signing.verify_issuer_signature(p256_pem, "SM2", canonical, sm2_sig)  # a P-256 key stored as SM2
    assert not signing.verify_issuer_signature(sm2_pem, "ES256", canonical, {**sm2_sig, "alg": "ES256"})
    assert not signing.verify_issuer_signature(sm2_pem, "RS256", canonical, {**sm2_sig, "alg": "RS256"})
    # tampered content, a bad value
    assert not signing.verify_issuer_signature(sm2_pem, "SM2", canonical.replace(b"1.00", b"9.00"), sm2_sig)
    for value in ("", "!!!", b64url_encode(b"\x00" * 64), sm2_sig["value"][:-2], None):
        assert not signing.verify_issuer_signature(sm2_pem, "SM2", canonical, {"alg": "SM2", "value": value})


def test_platform_signer_with_an_sm2_key():
    key = sm2.generate_private_key()
    signer = signing.PlatformSigner(key.to_pem(), alg="SM2")
    jwk = signer.public_jwk
    assert jwk["kty"] == "EC" and jwk["crv"] == "SM2" and jwk["alg"] == "SM2" and jwk["kid"] == signer.kid
    data = {"code": "46060125", "number": "0000000001", "signature": {"alg": "SM2", "value": "x" * 86}}
    supervision = signer.sign(data)
    assert supervision["alg"] == "SM2" and supervision["kid"] == signer.kid
    signed = {**data, "supervision_signature": supervision}
    assert signer.verify(signed)
    assert not signer.verify({**signed, "number": "0000000002"})
    assert not signer.verify({**signed, "supervision_signature": {**supervision, "alg": "ES256"}})
    import rfc8785

    from backend.common.crypto import b64url_decode

    point = sm2.SM2PublicKey(int.from_bytes(b64url_decode(jwk["x"]), "big"), int.from_bytes(b64url_decode(jwk["y"]), "big"))
    assert point == key.public_key
    assert REF.verify((point.x, point.y), rfc8785.dumps(data), split(b64url_decode(supervision["value"])))
    with pytest.raises(ValueError):
        signing.PlatformSigner(key.to_pem(), alg="RS256")


# ---------------------------------------------------------------- OpenSSL 3, a third implementation

def _openssl_sm2():
    exe = shutil.which("openssl")
    if not exe:
        return None
    out = subprocess.run([exe, "list", "-public-key-algorithms"], capture_output=True, text=True)
    return exe if out.returncode == 0 and "SM2" in out.stdout else None


@pytest.mark.skipif(_openssl_sm2() is None, reason="needs the openssl command with SM2 (OpenSSL 3)")
def test_openssl_keys_and_signatures_interoperate(tmp_path):
    exe = _openssl_sm2()

    def run(*args):
        return subprocess.run([exe, *args], capture_output=True, check=True)

    run("genpkey", "-algorithm", "SM2", "-out", str(tmp_path / "key.pem"))
    run("pkey", "-in", str(tmp_path / "key.pem"), "-pubout", "-out", str(tmp_path / "pub.pem"))
    key = sm2.load_private_key((tmp_path / "key.pem").read_text())
    pub = sm2.load_public_key((tmp_path / "pub.pem").read_text())
    assert key.public_key == pub and pub.to_pem() == (tmp_path / "pub.pem").read_text()
    (tmp_path / "msg").write_bytes(b"receipt bytes")
    for ident in ("1234567812345678", "ALICE123@YAHOO.COM"):
        run("pkeyutl", "-sign", "-inkey", str(tmp_path / "key.pem"), "-rawin", "-digest", "sm3", "-pkeyopt", f"distid:{ident}",
            "-in", str(tmp_path / "msg"), "-out", str(tmp_path / "sig.der"))
        r, s = decode_dss_signature((tmp_path / "sig.der").read_bytes())
        assert sm2.verify(pub, b"receipt bytes", raw((r, s)), signer_id=ident.encode())
        assert not sm2.verify(pub, b"receipt bytes", raw((r, s)), signer_id=b"someone else")
        r, s = split(sm2.sign(key, b"receipt bytes", signer_id=ident.encode()))
        (tmp_path / "ours.der").write_bytes(encode_dss_signature(r, s))
        ok = subprocess.run([exe, "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin", "-digest", "sm3",
                             "-pkeyopt", f"distid:{ident}", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "ours.der")],
                            capture_output=True)
        assert ok.returncode == 0, ok.stderr
    # our private key PEM reads in OpenSSL as the same key (small d: its leading zeros kept)
    for ours in (sm2.generate_private_key(), sm2.SM2PrivateKey.from_int(5)):
        (tmp_path / "ours.pem").write_text(ours.to_pem())
        assert run("pkey", "-in", str(tmp_path / "ours.pem"), "-pubout").stdout.decode() == ours.public_key.to_pem()
