"""VERP envelope senders: one per delivery, signed, read back whatever case a server gives them."""

from service.config import Config
from service.outbound.verp import bounce_address, delivery_of, envelope_sender, is_bounce_address

CONFIG = Config(secret_key="test-secret", mail_from="paperboy <news@paperboy.test>")


def test_each_delivery_gets_its_own_signed_sender_that_reads_back():
    first, second = envelope_sender(CONFIG, 1), envelope_sender(CONFIG, 2)
    assert first != second and first.startswith("news+1-") and first.endswith("@paperboy.test")
    assert delivery_of(CONFIG, first) == 1 and delivery_of(CONFIG, f"<{second.upper()}>") == 2
    assert len(first.split("@")[0]) <= 64  # a local part's limit in RFC 5321


def test_a_forged_or_foreign_address_names_no_delivery():
    sender = envelope_sender(CONFIG, 7)
    assert delivery_of(CONFIG, sender.replace("news+7-", "news+8-")) is None  # the signature is for 7
    assert delivery_of(CONFIG, sender.replace("@paperboy.test", "@elsewhere.test")) is None
    assert delivery_of(CONFIG.with_overrides(secret_key="another"), sender) is None
    for address in ("news@paperboy.test", "news+@paperboy.test", "news+x-y@paperboy.test", "not an address"):
        assert delivery_of(CONFIG, address) is None


def test_the_bounce_address_defaults_to_the_from_address_and_may_carry_a_tag_of_its_own():
    assert bounce_address(CONFIG) == "news@paperboy.test"
    tagged = CONFIG.with_overrides(bounce_address="ops+bounces@mail.example.org")
    sender = envelope_sender(tagged, 42)
    assert sender.startswith("ops+bounces+42-") and delivery_of(tagged, sender) == 42
    assert is_bounce_address(tagged, "ops+bounces@MAIL.example.org") and is_bounce_address(tagged, sender)
    assert not is_bounce_address(tagged, "ops@mail.example.org") and not is_bounce_address(tagged, "news@paperboy.test")
