"""The payload codec, and the client factory that puts it in every client.

No server is needed: the codec is bytes to bytes. That the Temporal database holds no plain
personal data after a whole case is checked end to end in ``tests/api/test_codec_endpoint.py``.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError
from temporalio.service import TLSConfig

from core.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadIntegrityError,
    PayloadKeyUnavailable,
)
from core.settings import Environment, Settings
from core.temporal import data_converter, tls_config
from domain.contracts import CandidateContact

NAME = "Zéphyrine Quillebœuf"


def new_key() -> SecretStr:
    return SecretStr(base64.b64encode(os.urandom(32)).decode())


def settings_with(keys: dict[str, SecretStr], current: str, **more: object) -> Settings:
    return Settings(
        environment=Environment.TEST,
        payload_keys=keys,
        payload_key_id=current,
        _env_file=None,  # type: ignore[call-arg]
        **more,  # type: ignore[arg-type]
    )


def plain(text: str = NAME) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_hides_data_and_metadata() -> None:
    codec = EncryptionCodec(settings_with({"k1": new_key()}, "k1"))
    original = [plain(), Payload(metadata={"encoding": b"binary/null"}), plain("deux")]
    encoded = await codec.encode(original)
    assert len(encoded) == 3
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA] == b"k1"
        assert NAME.encode() not in payload.data and b"json/plain" not in payload.data
    # A fresh nonce each time: the same payload never gives the same ciphertext.
    assert (await codec.encode([plain()]))[0].data != encoded[0].data
    assert await codec.decode(encoded) == original


async def test_old_keys_decrypt_and_the_current_one_encrypts() -> None:
    old, new = new_key(), new_key()
    before = EncryptionCodec(settings_with({"2025": old}, "2025"))
    sealed_before = await before.encode([plain()])
    # Rotation: the new key added, then made current; the old one stays to decrypt.
    after = EncryptionCodec(settings_with({"2025": old, "2026": new}, "2026"))
    sealed_after = await after.encode([plain()])
    assert sealed_after[0].metadata[KEY_ID_METADATA] == b"2026"
    assert await after.decode(sealed_before + sealed_after) == [plain(), plain()]
    # Once the old key is dropped, what it encrypted names it, and only it.
    only_new = EncryptionCodec(settings_with({"2026": new}, "2026"))
    with pytest.raises(PayloadKeyUnavailable) as raised:
        await only_new.decode(sealed_before)
    assert raised.value.key_id == "2025"
    assert "2025" in str(raised.value)
    assert old.get_secret_value() not in str(raised.value)


async def test_a_tampered_payload_fails_authentication() -> None:
    codec = EncryptionCodec(settings_with({"k1": new_key(), "k2": new_key()}, "k1"))
    sealed = (await codec.encode([plain()]))[0]

    flipped = Payload()
    flipped.CopyFrom(sealed)
    data = bytearray(flipped.data)
    data[-1] ^= 1
    flipped.data = bytes(data)
    with pytest.raises(PayloadIntegrityError):
        await codec.decode([flipped])

    # The key id is bound to the ciphertext: relabelled, it is not opened with another key.
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"k2"
    with pytest.raises(PayloadIntegrityError):
        await codec.decode([relabelled])

    truncated = Payload(metadata=dict(sealed.metadata), data=sealed.data[:20])
    with pytest.raises(PayloadIntegrityError):
        await codec.decode([truncated])

    without_key_id = Payload(metadata={"encoding": ENCODING}, data=sealed.data)
    with pytest.raises(PayloadIntegrityError):
        await codec.decode([without_key_id])


async def test_payloads_recorded_before_encryption_pass_through() -> None:
    codec = EncryptionCodec(settings_with({"k1": new_key()}, "k1"))
    old = [plain(), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await codec.decode(old) == old


def test_malformed_keys_are_refused_naming_the_key_id_only() -> None:
    short = SecretStr(base64.b64encode(b"x" * 16).decode())
    with pytest.raises(ValueError, match="'court'") as raised:
        EncryptionCodec(settings_with({"court": short}, "court"))
    assert short.get_secret_value() not in str(raised.value)
    with pytest.raises(ValueError, match="'illisible'"):
        EncryptionCodec(settings_with({"illisible": SecretStr("pas du base64 !")}, "illisible"))


async def test_the_data_converter_encrypts_values_and_failures() -> None:
    converter = data_converter(settings_with({"k1": new_key()}, "k1"))
    candidate = CandidateContact(name=NAME, email="zephyrine@example.test")
    payloads = await converter.encode([candidate, 987_654])
    for payload in payloads:
        assert payload.metadata["encoding"] == ENCODING
        assert b"987654" not in payload.data and b"zephyrine" not in payload.data
    assert await converter.decode(payloads, [CandidateContact, int]) == [candidate, 987_654]

    # Failure messages and stack traces quote inputs: they travel encrypted as well.
    failure = Failure()
    await converter.encode_failure(
        ApplicationError(f"refus pour {NAME}", type="Refus", non_retryable=True), failure
    )
    assert NAME not in failure.message and NAME.encode() not in failure.SerializeToString()
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError) and NAME in error.message


def test_tls_follows_the_settings(tmp_path: Path) -> None:
    keys = {"k1": new_key()}
    assert tls_config(settings_with(keys, "k1")) is False
    assert tls_config(settings_with(keys, "k1", temporal_tls=True)) is True
    # An API key (Temporal Cloud) implies TLS.
    assert tls_config(settings_with(keys, "k1", temporal_api_key=SecretStr("clé"))) is True

    ca, cert, key = tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key"
    for path in (ca, cert, key):
        path.write_bytes(f"contenu de {path.name}".encode())
    config = tls_config(
        settings_with(
            keys,
            "k1",
            temporal_tls_ca_file=ca,
            temporal_tls_cert_file=cert,
            temporal_tls_key_file=key,
            temporal_tls_server_name="temporal.interne",
        )
    )
    assert config == TLSConfig(
        server_root_ca_cert=ca.read_bytes(),
        client_cert=cert.read_bytes(),
        client_private_key=key.read_bytes(),
        domain="temporal.interne",
    )
    with pytest.raises(ValueError, match="go together"):
        tls_config(settings_with(keys, "k1", temporal_tls_cert_file=cert))
    with pytest.raises(ValueError, match="temporal_tls_ca_file"):
        tls_config(settings_with(keys, "k1", temporal_tls_ca_file=tmp_path / "absent.pem"))
