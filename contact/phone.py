"""Phone numbers of callers: parsed and normalised with `phonenumbers` (Dutch numbers only: the
advisors call back from the Netherlands), e-mail addresses (their keyed hashes: contact/keys.py)."""

from __future__ import annotations

import phonenumbers

from contact.errors import DomainError

# The numbers people may call instead of chatting: /api/status, a closed chat and the console's config.
HELPLINE = {"advice": "0800-2000", "emergency": "112"}
MAX_RAW = 32
_NOT_CALLABLE = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
    }
)


def normalise_phone(raw: str) -> str:
    """The number in E.164 (+31…), or `invalid_phone` for anything that is not a valid Dutch
    number: letters, too short or long, a foreign country code, a number that cannot exist."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_RAW:
        raise DomainError("invalid_phone")
    if any(c.isalpha() for c in raw):
        raise DomainError("invalid_phone")
    try:
        number = phonenumbers.parse(raw, "NL")
    except phonenumbers.NumberParseException:
        raise DomainError("invalid_phone") from None
    if number.country_code != 31 or not phonenumbers.is_valid_number(number):
        raise DomainError("invalid_phone")
    if phonenumbers.number_type(number) in _NOT_CALLABLE:
        raise DomainError("invalid_phone")  # a service line is nobody's own phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str | None:
    """The address in lower case, or None when it cannot be one (a plain shape check: the
    confirmation e-mail is the real test)."""
    email = raw.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        return None
    return email


def display_phone(e164: str) -> str:
    """How an advisor reads the number: 06 12345678, 030 1234567."""
    return phonenumbers.format_number(phonenumbers.parse(e164, "NL"), phonenumbers.PhoneNumberFormat.NATIONAL)
