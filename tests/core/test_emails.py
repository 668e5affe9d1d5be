"""Email normalisation: one spelling per address, and clear refusal of what is not an address."""

import unicodedata

import pytest

from core.emails import InvalidEmail, domain_of, normalize_email


def test_case_is_folded_in_local_part_and_domain():
    assert normalize_email("Jane.Doe@Partner.EXAMPLE") == "jane.doe@partner.example"


def test_surrounding_spaces_are_ignored():
    assert normalize_email("  jane@partner.example\t\n") == "jane@partner.example"


def test_trailing_dot_of_domain_is_dropped():
    assert normalize_email("jane@partner.example.") == "jane@partner.example"


def test_nfc_and_nfd_spellings_are_one_address():
    composed = unicodedata.normalize("NFC", "Ünïcode@Exämple.test")
    decomposed = unicodedata.normalize("NFD", "Ünïcode@Exämple.test")
    assert composed != decomposed

    assert normalize_email(composed) == normalize_email(decomposed)


def test_unicode_domain_equals_its_punycode_form():
    assert normalize_email("jane@Müller.example") == normalize_email("jane@xn--mller-kva.example")
    assert normalize_email("jane@müller.example") == "jane@xn--mller-kva.example"


def test_internationalised_local_part_is_kept_in_lower_case():
    assert normalize_email("Ünïcode@exämple.test") == "ünïcode@xn--exmple-cua.test"


def test_plus_addressing_is_kept():
    assert normalize_email("Jane+Portal@partner.example") == "jane+portal@partner.example"


def test_domain_of_returns_the_domain():
    assert domain_of(normalize_email("jane@Müller.example")) == "xn--mller-kva.example"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("jane.partner.example", id="no-at"),
        pytest.param("@partner.example", id="empty-local"),
        pytest.param("jane@", id="empty-domain"),
        pytest.param("jane doe@partner.example", id="space-in-local"),
        pytest.param("jane@partner example", id="space-in-domain"),
        pytest.param("jane..doe@partner.example", id="double-dot"),
        pytest.param(".jane@partner.example", id="leading-dot"),
        pytest.param("jane.@partner.example", id="trailing-dot"),
        pytest.param("jane@doe@partner.example", id="two-ats"),
        pytest.param("<jane>@partner.example", id="angle-brackets"),
        pytest.param("jane\x00@partner.example", id="control-character"),
        pytest.param("jane@-partner-.example", id="bad-domain-hyphens"),
        pytest.param("jane@partner..example", id="bad-domain-empty-label"),
        pytest.param("jane@partner", id="bad-domain-no-tld"),
        pytest.param("jane@" + "a" * 64 + ".example", id="bad-domain-label-too-long"),
        pytest.param("j" * 65 + "@partner.example", id="local-too-long"),
    ],
)
def test_invalid_input_raises_invalid_email(text):
    with pytest.raises(InvalidEmail):
        normalize_email(text)


def test_non_text_raises_invalid_email():
    with pytest.raises(InvalidEmail, match="must be text"):
        normalize_email(None)


def test_invalid_email_is_a_value_error():
    assert issubclass(InvalidEmail, ValueError)
