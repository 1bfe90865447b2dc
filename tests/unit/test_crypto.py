"""Field encryption, its AAD binding, the blind index and the data key cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest

from cairn.crypto.blind_index import BlindIndex, normalize
from cairn.crypto.cache import DataKeyCache, DataKeyCacheKey
from cairn.crypto.field_cipher import FieldAddress, FieldCipher
from cairn.errors import DecryptionError

KEY = bytes(range(32))
HERE = FieldAddress("acme", "Patient", "p1", "name")


def test_field_round_trips_and_ciphertext_is_versioned_and_hides_the_value():
    cipher = FieldCipher(KEY)
    sealed = cipher.encrypt('[{"family":"Okafor"}]', HERE)
    assert sealed.startswith("c1.")
    assert "Okafor" not in sealed
    assert cipher.decrypt(sealed, HERE) == '[{"family":"Okafor"}]'


def test_same_value_encrypts_differently_each_time():
    cipher = FieldCipher(KEY)
    assert cipher.encrypt("x", HERE) != cipher.encrypt("x", HERE)


@pytest.mark.parametrize(
    "moved_to",
    [
        FieldAddress("globex", "Patient", "p1", "name"),
        FieldAddress("acme", "Patient", "p2", "name"),
        FieldAddress("acme", "Patient", "p1", "birthDate"),
        FieldAddress("acme", "Practitioner", "p1", "name"),
    ],
    ids=["other-tenant", "other-record", "other-field", "other-type"],
)
def test_ciphertext_moved_to_another_place_fails_authentication(moved_to):
    cipher = FieldCipher(KEY)
    sealed = cipher.encrypt("Okafor", HERE)
    with pytest.raises(DecryptionError):
        cipher.decrypt(sealed, moved_to)


def test_ciphertext_under_another_tenants_key_fails():
    sealed = FieldCipher(KEY).encrypt("Okafor", HERE)
    with pytest.raises(DecryptionError):
        FieldCipher(os.urandom(32)).decrypt(sealed, HERE)


def test_tampered_or_unknown_format_ciphertext_is_refused():
    cipher = FieldCipher(KEY)
    sealed = cipher.encrypt("Okafor", HERE)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DecryptionError):
        cipher.decrypt(flipped, HERE)
    with pytest.raises(DecryptionError):
        cipher.decrypt("c0." + sealed[3:], HERE)


def test_cipher_refuses_a_key_that_is_not_256_bits():
    with pytest.raises(ValueError, match="256-bit"):
        FieldCipher(b"short")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("José  GARCÍA", "jose garcia"),
        ("  Zoë\tBrontë \n", "zoe bronte"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
        ("ﬁnn", "finn"),  # NFKD splits the ligature
    ],
)
def test_normalize_strips_accents_casefolds_and_collapses_whitespace(raw, normalized):
    assert normalize(raw) == normalized


def test_blind_tokens_match_on_normalized_value_and_differ_by_parameter_and_tenant():
    acme, globex = BlindIndex(KEY), BlindIndex(bytes(32))
    assert acme.token("name", "José") == acme.token("name", "jose")
    assert acme.token("name", "Jose") != acme.token("identifier", "Jose")
    assert acme.token("name", "Jose") != globex.token("name", "Jose")
    assert "jose" not in acme.token("name", "Jose").lower()


def test_blind_index_key_is_derived_not_the_data_key_itself():
    under_raw_key = hmac.new(KEY, b"name\x1fjose", hashlib.sha256).digest()
    assert BlindIndex(KEY).token("name", "jose") != base64.urlsafe_b64encode(under_raw_key).decode().rstrip(
        "="
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cached_key_expires_after_its_ttl():
    clock = Clock()
    cache = DataKeyCache(ttl_seconds=300, clock=clock)
    key = DataKeyCacheKey("clinical", "kms-1", "acme")
    cache.put(key, KEY)
    clock.now = 299
    assert cache.get(key) == KEY
    clock.now = 300
    assert cache.get(key) is None


def test_cache_is_bounded_and_evicts_least_recently_used():
    cache = DataKeyCache(max_entries=2)
    first, second, third = (DataKeyCacheKey("t", "k", tenant) for tenant in ("a", "b", "c"))
    cache.put(first, b"1")
    cache.put(second, b"2")
    cache.get(first)
    cache.put(third, b"3")
    assert len(cache) == 2
    assert cache.get(second) is None
    assert cache.get(first) == b"1"


def test_cache_key_separates_tables_kms_keys_and_tenants():
    cache = DataKeyCache()
    cache.put(DataKeyCacheKey("clinical", "kms-1", "acme"), KEY)
    assert cache.get(DataKeyCacheKey("clinical-2", "kms-1", "acme")) is None
    assert cache.get(DataKeyCacheKey("clinical", "kms-2", "acme")) is None
    assert cache.get(DataKeyCacheKey("clinical", "kms-1", "globex")) is None
