# Independent re-derivation of the golden checkpoint in tests/checkpoint_vectors.rs,
# with nothing of ours: Python's hashlib and the `cryptography` package (OpenSSL's Ed25519).
# Run: python3 tests/independent/checkpoint_vector.py   (needs `pip install cryptography`)
# It rebuilds the note, the verifier key and the private key string from the seed and asserts they equal
# the strings the Rust test pins, then verifies the pinned signature with OpenSSL.
import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = bytes([0x01])


def b64(data):
    return base64.b64encode(data).decode()


def signed_checkpoint(seed, name, origin, size, root):
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]
    body = f"{origin}\n{size}\n{b64(root)}\n"
    signature = private.sign(body.encode())
    note = body + "\n" + "\u2014 " + name + " " + b64(key_id + signature) + "\n"
    verifier = f"{name}+{key_id.hex()}+{b64(ED25519 + public)}"
    secret = f"PRIVATE+KEY+{name}+{key_id.hex()}+{b64(ED25519 + seed)}"
    return note, verifier, secret


# The size-5 root of the RFC 6962 test tree (transparency-dev/merkle testonly/constants.go).
ROOT = bytes.fromhex("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4")
NAME = "example.com/taizhang-test"

note, verifier, secret = signed_checkpoint(bytes(range(32)), NAME, NAME, 5, ROOT)
assert note == (
    "example.com/taizhang-test\n5\nTju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=\n\n"
    "\u2014 example.com/taizhang-test c5rlX/Q6amPE4vIiuVVcvR9AkjUeljBUbF0LpoipRhSglTbEzJAjK5SqGUrzfinm9vBalf/ePX8Bhg4d8HwZ82f9hAA=\n"
), note
assert verifier == "example.com/taizhang-test+739ae55f+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", verifier
assert secret == "PRIVATE+KEY+example.com/taizhang-test+739ae55f+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f", secret

witness_note, witness_verifier, _ = signed_checkpoint(bytes([0x42] * 32), "witness.example/w1", NAME, 5, ROOT)
assert witness_note.endswith(
    "\u2014 witness.example/w1 hzOQzUfGpOMtumCNuWyUebP8QsBG5cc+S3dQCNA1p2Bc93tp5JaelAx0LUrFtTPNqx2B77U5FhHuKGE3Y/y/FId7qwY=\n"
), witness_note
assert witness_verifier == "witness.example/w1+873390cd+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS", witness_verifier

# Verify the pinned signature from its public key alone.
body, signature_line = note.split("\n\n")
signature = base64.b64decode(signature_line.split(" ")[2])
public = base64.b64decode(verifier.split("+", 2)[2])[1:]  # base64 may contain "+" itself
Ed25519PublicKey.from_public_bytes(public).verify(signature[4:], (body + "\n").encode())
print("checkpoint vector cross-checked")
