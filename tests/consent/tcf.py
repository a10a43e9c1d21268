"""Writing IAB TCF v2 core strings for tests (the `iab-tcf` package only reads them)."""

from __future__ import annotations

import base64


def tc_string(purposes: set[int]) -> str:
    """A minimal, valid TCF v2.2 core segment consenting to `purposes` (1-24), no vendors."""
    bits = ""

    def put(value: int, width: int) -> None:
        nonlocal bits
        bits += format(value, f"0{width}b")

    deciseconds = 17_000_000_000
    put(2, 6)  # Version
    put(deciseconds, 36)  # Created
    put(deciseconds, 36)  # LastUpdated
    put(7, 12)  # CmpId
    put(1, 12)  # CmpVersion
    put(0, 6)  # ConsentScreen
    for letter in "EN":  # ConsentLanguage
        put(ord(letter) - ord("A"), 6)
    put(100, 12)  # VendorListVersion
    put(4, 6)  # TcfPolicyVersion
    put(1, 1)  # IsServiceSpecific
    put(0, 1)  # UseNonStandardTexts
    put(0, 12)  # SpecialFeatureOptIns
    bits += "".join("1" if n in purposes else "0" for n in range(1, 25))  # PurposesConsent
    put(0, 24)  # PurposesLITransparency
    put(0, 1)  # PurposeOneTreatment
    for letter in "DE":  # PublisherCC
        put(ord(letter) - ord("A"), 6)
    put(0, 16)  # MaxVendorId (consents)
    put(0, 1)  # IsRangeEncoding
    put(0, 16)  # MaxVendorId (legitimate interests)
    put(0, 1)  # IsRangeEncoding
    put(0, 12)  # NumPubRestrictions
    bits += "0" * (-len(bits) % 8)
    raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
