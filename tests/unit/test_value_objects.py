"""Value objects of the identity context: Username, Email, RawPassword, PasswordHash."""

from __future__ import annotations

import pytest

from app.identity.domain.errors import InvalidEmailError, InvalidUsernameError, WeakPasswordError
from app.identity.domain.value_objects import Email, PasswordHash, RawPassword, Username

# --- Username ----------------------------------------------------------------------------------


def test_username_parse_normalises_case_and_surrounding_space() -> None:
    assert Username.parse("  Alice_Smith \n").value == "alice_smith"


@pytest.mark.parametrize("raw", ["\u212aate", "\u0130van", "ALİCE"])
def test_only_ascii_is_folded_so_no_look_alike_letter_names_another_user(raw: str) -> None:
    # The Kelvin sign lower-cases to "k", the dotted I to "i" and a combining dot.
    with pytest.raises(InvalidUsernameError):
        Username.parse(raw)


def test_usernames_differing_only_in_case_are_equal_after_parsing() -> None:
    assert Username.parse("ALICE") == Username.parse("alice")


def test_username_constructor_refuses_uppercase_value() -> None:
    with pytest.raises(InvalidUsernameError):
        Username("Alice")


@pytest.mark.parametrize("raw", ["abc", "a1b", "a" * 32, "a.b", "a-b_c.d", "007", "x" + "9" * 31])
def test_accepts_username_within_bounds_and_alphabet(raw: str) -> None:
    assert Username.parse(raw).value == raw


@pytest.mark.parametrize("raw", ["", "a", "ab", "a.", "a" * 33, "a" * 100])
def test_rejects_username_outside_length_bounds(raw: str) -> None:
    with pytest.raises(InvalidUsernameError):
        Username.parse(raw)


@pytest.mark.parametrize(
    "raw",
    ["al ice", "al@ice", "al+ice", "al/ice", "aliçe", "алиса", "al!ce", "al'ice", "ali\tce"],
)
def test_rejects_username_with_disallowed_characters(raw: str) -> None:
    with pytest.raises(InvalidUsernameError):
        Username.parse(raw)


@pytest.mark.parametrize("raw", ["_alice", ".alice", "-alice", "alice_", "alice.", "alice-"])
def test_rejects_username_with_leading_or_trailing_separator(raw: str) -> None:
    with pytest.raises(InvalidUsernameError):
        Username.parse(raw)


@pytest.mark.parametrize("raw", ["al__ice", "al..ice", "al--ice", "al._ice", "al-.ice"])
def test_rejects_username_with_double_separator(raw: str) -> None:
    with pytest.raises(InvalidUsernameError):
        Username.parse(raw)


def test_username_is_immutable() -> None:
    username = Username.parse("alice")
    with pytest.raises(AttributeError):
        username.value = "mallory"  # type: ignore[misc]


# --- Email -------------------------------------------------------------------------------------


def test_email_parse_lowercases_and_strips() -> None:
    email = Email.parse("  Alice.Smith@Example.COM ")
    assert email.value == "alice.smith@example.com"


def test_email_local_part_is_everything_before_the_last_at() -> None:
    assert Email.parse("alice+news@example.com").local_part == "alice+news"


@pytest.mark.parametrize(
    "raw",
    [
        "alice@example.com",
        "a@b.co",
        "alice.smith@example.co.uk",
        "alice+tag@sub.example.org",
        "o'neil@example.com",
        "user_name-1@xn--bcher-kva.example",
        "a" * 64 + "@example.com",
        "alice@" + "a" * 63 + ".com",
        "alice@123.example.com",
        "alice@example.a1",  # the top-level label starts with a letter; digits may follow
        "alice@1a.2b.com",
        "alice@" + ("a" * 60 + ".") * 4 + "comx",  # 254 characters in total, the limit
    ],
)
def test_accepts_valid_email(raw: str) -> None:
    assert Email.parse(raw).value == raw.lower()


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "alice@@example.com",
        "al@ice@example.com",
        ".alice@example.com",
        "alice.@example.com",
        "al..ice@example.com",
        "al ice@example.com",
        "alice@exa mple.com",
        "alice@-example.com",
        "alice@example-.com",
        "alice@example..com",
        "alice@.example.com",
        "alice@example.com.",
        "alice@1.2.3.4",
        "alice@example.123",
        "alice@mail.example.9z",
        "\u212aate@example.com",  # the Kelvin sign would lower-case to "k"
        "alice@exa_mple.com",
        "a" * 65 + "@example.com",
        "alice@" + "a" * 64 + ".com",
        "alice@" + ("a" * 60 + ".") * 4 + "comxx",  # 255 characters in total
        "alicé@example.com",
    ],
)
def test_rejects_invalid_email(raw: str) -> None:
    with pytest.raises(InvalidEmailError):
        Email.parse(raw)


def test_email_constructor_refuses_uppercase_value() -> None:
    with pytest.raises(InvalidEmailError):
        Email("Alice@example.com")


# --- RawPassword -------------------------------------------------------------------------------

ALICE = Username.parse("alice")
ALICE_EMAIL = Email.parse("wonderland@example.com")


def test_raw_password_repr_hides_the_value() -> None:
    password = RawPassword("hunter2-secret")
    assert "hunter2" not in repr(password)
    assert "hunter2" not in str(password)
    assert "hunter2" not in f"{password!r} {[password]}"


def test_raw_password_accepts_up_to_the_hard_limit() -> None:
    assert len(RawPassword("x" * RawPassword.HARD_LIMIT).value) == 1024


@pytest.mark.parametrize("value", ["", "x" * 1025, "x" * 100_000])
def test_raw_password_refuses_empty_or_beyond_hard_limit(value: str) -> None:
    with pytest.raises(WeakPasswordError):
        RawPassword(value)


@pytest.mark.parametrize("value", ["abc", "x"])
def test_short_but_nonempty_password_is_constructible_for_logging_in(value: str) -> None:
    # Old, weaker passwords must still be usable to log in; only new ones follow the policy.
    assert RawPassword(value).value == value


@pytest.mark.parametrize("value", ["p" * 8, "correct horse", "x" * 128])
def test_policy_accepts_password_of_8_to_128_characters(value: str) -> None:
    RawPassword(value).ensure_acceptable_for(ALICE, ALICE_EMAIL)


@pytest.mark.parametrize("value", ["p", "p" * 7, "x" * 129, "x" * 1024])
def test_policy_rejects_password_outside_8_to_128_characters(value: str) -> None:
    with pytest.raises(WeakPasswordError):
        RawPassword(value).ensure_acceptable_for(ALICE, ALICE_EMAIL)


@pytest.mark.parametrize("value", [" " * 8, "\t" * 10, " \n \t \r  " * 2, "\u00a0" * 12])
def test_policy_rejects_blank_password(value: str) -> None:
    with pytest.raises(WeakPasswordError):
        RawPassword(value).ensure_acceptable_for(ALICE, ALICE_EMAIL)


@pytest.mark.parametrize("value", ["alice-is-great", "MyALICEpass99", "xxxAlIcExxx"])
def test_policy_rejects_password_containing_username_in_any_case(value: str) -> None:
    with pytest.raises(WeakPasswordError):
        RawPassword(value).ensure_acceptable_for(ALICE, ALICE_EMAIL)


def test_policy_rejects_password_containing_full_email_in_any_case() -> None:
    with pytest.raises(WeakPasswordError):
        RawPassword("my WONDERLAND@EXAMPLE.COM pw").ensure_acceptable_for(
            Username.parse("bob"), ALICE_EMAIL
        )


@pytest.mark.parametrize("value", ["wonderland1", "1WonderLand!", "xWONDERLANDx"])
def test_policy_rejects_password_containing_email_local_part_in_any_case(value: str) -> None:
    with pytest.raises(WeakPasswordError):
        RawPassword(value).ensure_acceptable_for(Username.parse("bob"), ALICE_EMAIL)


def test_policy_rejects_a_password_containing_a_three_character_username() -> None:
    with pytest.raises(WeakPasswordError):
        RawPassword("my-name-is-BOB!").ensure_acceptable_for(Username.parse("bob"), ALICE_EMAIL)


def test_policy_ignores_identifiers_shorter_than_three_characters() -> None:
    # A one-letter local part would otherwise forbid every password containing that letter.
    RawPassword("a very long passphrase").ensure_acceptable_for(
        Username.parse("bob"), Email.parse("a@example.com")
    )


def test_policy_accepts_password_unrelated_to_the_account() -> None:
    RawPassword("correct horse battery staple").ensure_acceptable_for(ALICE, ALICE_EMAIL)


def test_weak_password_error_message_does_not_echo_the_password() -> None:
    with pytest.raises(WeakPasswordError) as caught:
        RawPassword("alice-s3cr3t").ensure_acceptable_for(ALICE, ALICE_EMAIL)
    assert "s3cr3t" not in str(caught.value)


# --- PasswordHash ------------------------------------------------------------------------------


def test_password_hash_repr_hides_the_value() -> None:
    password_hash = PasswordHash("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA")
    assert "argon2id" not in repr(password_hash)
    assert "aGFzaA" not in str(password_hash)


def test_password_hashes_compare_by_value() -> None:
    assert PasswordHash("h1") == PasswordHash("h1")
    assert PasswordHash("h1") != PasswordHash("h2")
