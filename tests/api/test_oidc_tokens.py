"""The ID token checks of the staff sign-in, on tokens a real provider would never send.

``tests/api/test_staff_oidc.py`` drives the whole flow against a real provider; a certified
provider does not issue a token for another audience, an expired one or one signed ``none``, so
those refusals are checked here on tokens signed with a key made for the test.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from api.oidc import (
    SIGNING_ALGORITHMS,
    OidcError,
    UnknownKey,
    check_id_token_claims,
    decode_signed,
)
from domain.errors import ErrorCode

ISSUER = "https://fournisseur.example.test"
CLIENT = "secupol"
NONCE = "nonce-de-la-connexion"

KEY = RSAKey.generate_key(2048, parameters={"kid": "cle-1"})
KEYS = KeySet([KEY])


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "agent-1",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def signed(payload: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, payload, key)


def check(payload: dict[str, Any]) -> None:
    check_id_token_claims(payload, issuer=ISSUER, client_id=CLIENT, nonce=NONCE)


def assert_invalid(payload: dict[str, Any]) -> None:
    with pytest.raises(OidcError) as refused:
        check(payload)
    assert refused.value.code == ErrorCode.OIDC_TOKEN_INVALID


def test_a_good_token_passes() -> None:
    decoded = decode_signed(signed(claims()), KEYS, SIGNING_ALGORITHMS)
    check(decoded)
    check(claims(aud=[CLIENT, "autre"], azp=CLIENT))


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://autre.example.test"},
        {"iss": None},
        {"aud": "autre-client"},
        {"aud": None},
        {"aud": [CLIENT, "autre"]},  # several audiences, no azp
        {"aud": [CLIENT, "autre"], "azp": "autre"},
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"iat": None},
        {"sub": None},
        {"nonce": "autre-nonce"},
        {"nonce": None},
    ],
    # Stable ids (not the expiry's value, which moves with the clock): pytest-xdist's workers
    # must collect the same tests.
    ids=lambda changes: ",".join(
        f"{k}=expired" if k == "exp" and v is not None else f"{k}={v}" for k, v in changes.items()
    ),
)
def test_a_wrong_claim_is_refused(changes: dict[str, Any]) -> None:
    assert_invalid(claims(**changes))


def test_a_token_signed_otherwise_is_refused() -> None:
    # Another key with the same key id: the signature does not verify.
    impostor = RSAKey.generate_key(2048, parameters={"kid": "cle-1"})
    with pytest.raises(OidcError) as refused:
        decode_signed(signed(claims(), impostor), KEYS, SIGNING_ALGORITHMS)
    assert refused.value.code == ErrorCode.OIDC_TOKEN_INVALID
    # An HMAC keyed with something an attacker knows (the client secret is known to the client
    # side) is never accepted, even with the key in the set.
    secret = OctKey.import_key("secret-du-client-secret-du-client", {"kid": "cle-hmac"})
    with pytest.raises(OidcError):
        decode_signed(signed(claims(), secret, "HS256"), KeySet([KEY, secret]), SIGNING_ALGORITHMS)


def test_an_unsigned_token_is_refused() -> None:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'kid': 'cle-1'})}.{part(claims())}."
    with pytest.raises(OidcError):
        decode_signed(unsigned, KEYS, SIGNING_ALGORITHMS)


def test_an_unknown_key_asks_for_the_keys_again() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "cle-2"})
    with pytest.raises(UnknownKey):
        decode_signed(signed(claims(), other), KEYS, SIGNING_ALGORITHMS)
    assert decode_signed(signed(claims(), other), KeySet([KEY, other]), SIGNING_ALGORITHMS)
