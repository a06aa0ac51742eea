#!/usr/bin/python3
"""
RSA PKCS#1 v1.5 / SHA-256 vectors for test_rsa, made at test-build time
with python3-cryptography (fresh keys each build): valid signatures of
several lengths of message, and signatures of deliberately wrong encoded
messages made with the raw private exponent (wrong block type, missing
separator, short padding, garbage after the hash, other DigestInfo
encodings, wrong digest, out-of-range values). Each key also carries the
Montgomery constants rsa_pubkey_init() must compute: RR = R^2 mod n with
R = 2^(32 * words) and N0inv = -n^-1 mod 2^32.

Output is in the NIST .rsp style test_rsa already reads:
[key], n, e, RR, N0inv, then entries of SHAAlg, Msg, S, Result.
"""
import hashlib
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
SHA1_OID_PREFIX = bytes.fromhex("3031300d06052b0e03021a05000420")  # sha-1 OID, 32-byte digest
NO_NULL_PREFIX = bytes.fromhex("302f300b0609608648016503040201" "0420")
# 1030 bits: a modulus that does not fill its last 32-bit word
KEYS = [(2048, 65537), (2048, 3), (1024, 65537), (1030, 65537), (3072, 65537), (4096, 65537)]


def hx(b):
    return b.hex()


def em(k, digest, bt=0x01, sep=0x00, ps_len=None, prefix=SHA256_PREFIX, tail=b""):
    t = prefix + digest + tail
    ps = k - 3 - len(t) if ps_len is None else ps_len
    out = bytes([0x00, bt]) + b"\xff" * ps + bytes([sep]) + t
    if len(out) < k:		# short padding: fill the rest with garbage after the hash
        out += os.urandom(k - len(out))
    return out[:k]


def raw_sign(priv, k, m):
    nums = priv.private_numbers()
    n, d = nums.public_numbers.n, nums.d
    x = int.from_bytes(m, "big")
    assert x < n
    return pow(x, d, n).to_bytes(k, "big")


def entry(out, msg, sig, result):
    out.append("SHAAlg = SHA256\nMsg = %s\nS = %s\nResult = %s\n" % (hx(msg), hx(sig), result))


def bad_ems(k, d):
    """(reason, encoded message) pairs a strict verifier must refuse."""
    ps_fill = em(k, d)
    bad_ps = bytearray(ps_fill)
    bad_ps[10] = 0xfe
    return [
        ("block type 2", em(k, d, bt=0x02)),
        ("block type 0", em(k, d, bt=0x00)),
        ("no separator", em(k, d, sep=0xff)),
        ("padding byte not ff", bytes(bad_ps)),
        ("padding 7 bytes, garbage after hash", em(k, d, ps_len=7)),
        ("garbage after hash", em(k, d, ps_len=8, tail=os.urandom(4))),
        ("sha-1 OID", em(k, d, prefix=SHA1_OID_PREFIX)),
        ("DigestInfo without NULL", em(k, d, prefix=NO_NULL_PREFIX)),
        ("hash moved left", bytes([0, 1]) + b"\xff" * 8 + b"\0" + SHA256_PREFIX + d
         + b"\xff" * (k - 11 - len(SHA256_PREFIX) - len(d))),
        ("leading byte 01", b"\x01" + em(k, d)[1:]),
    ]


def key_block(bits, e, out):
    priv = rsa.generate_private_key(public_exponent=e, key_size=bits)
    n = priv.public_key().public_numbers().n
    k = (n.bit_length() + 7) // 8
    words = (k + 3) // 4
    rr = pow(2, 64 * words, n)
    n0inv = (-pow(n, -1, 2 ** 32)) % 2 ** 32
    out.append("[key]\nn = %x\ne = %x\nRR = %0*x\nN0inv = %08x\n" % (n, e, 2 * k, rr, n0inv))
    for length in (0, 1, 55, 64, 1000):
        msg = os.urandom(length)
        entry(out, msg, priv.sign(msg, padding.PKCS1v15(), hashes.SHA256()), "P")
    msg = os.urandom(32)
    d = hashlib.sha256(msg).digest()
    entry(out, msg, raw_sign(priv, k, em(k, d)), "P (raw encoding)")
    for reason, m in bad_ems(k, d):
        entry(out, msg, raw_sign(priv, k, m), "F (%s)" % reason)
    other = hashlib.sha256(msg + b"x").digest()
    entry(out, msg, raw_sign(priv, k, em(k, other)), "F (other digest)")
    entry(out, msg, priv.sign(msg, padding.PKCS1v15(), hashes.SHA512()), "F (sha-512 signature)")
    for reason, val in (("s = 0", 0), ("s = 1", 1), ("s = n - 1", n - 1), ("s = n", n),
                        ("s = n + 1", n + 1)):
        if val < 256 ** k:
            entry(out, msg, val.to_bytes(k, "big"), "F (%s)" % reason)


def main():
    out = ["# made by test/unit/fit_sig/gen_rsa_vectors.py with python3-cryptography\n"]
    for bits, e in KEYS:
        key_block(bits, e, out)
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
