"""Card and tag errors: failure kinds that carry the medium, one kind each, no diamonds."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import cityid_card
from cityid_card import errors
from cityid_card.errors import CityIDError, CredentialError
from cityid_card.iso7816 import errors as card_errors
from cityid_card.media import errors as kinds
from cityid_card.type2 import errors as tag_errors

MODULES = {kinds: None, card_errors: "chip_card", tag_errors: "nfc_tag"}


def _classes(module: ModuleType) -> list[type[BaseException]]:
    return [
        value
        for name in module.__all__
        if inspect.isclass(value := getattr(module, name)) and issubclass(value, BaseException)
    ]


@pytest.mark.parametrize("module", list(MODULES), ids=lambda m: m.__name__)
def test_each_failure_is_one_kind_and_carries_its_medium(module: ModuleType) -> None:
    classes = _classes(module)
    assert classes
    for cls in classes:
        assert issubclass(cls, kinds.MediumError) and issubclass(cls, CityIDError)
        bases = [base for base in cls.__bases__ if issubclass(base, kinds.MediumError)]
        if cls is kinds.MediumError:
            assert cls.__bases__ == (CityIDError,)
            continue
        # One kind each, never a variant of two (as BlankTag(BlankCard, TagError) was).
        assert len(bases) == 1, cls
        others = [base for base in cls.__bases__ if base not in bases]
        assert others in ([], [CredentialError]), cls  # the one deliberate second base
        error = (
            cls("m", sw=0x6A82, command="SELECT")
            if issubclass(cls, card_errors.ApduError)
            else cls("m")
        )
        assert error.medium == MODULES[module], cls


def test_a_kind_catches_every_medium_and_a_medium_name_only_its_own() -> None:
    tag, card = tag_errors.BlankTag("no NDEF"), card_errors.BlankCard("no EF")
    for error in (tag, card):
        with pytest.raises(kinds.Blank):
            raise error
    assert not isinstance(tag, card_errors.BlankCard)
    assert not isinstance(card, tag_errors.TagError)
    generic = kinds.Removed("gone", medium="nfc_tag")
    assert generic.medium == "nfc_tag" and kinds.NoReader("none").medium is None
    assert isinstance(tag_errors.TagUidMismatch("copied"), CredentialError)
    assert isinstance(card_errors.CardAuthenticationError("clone"), CredentialError)


def test_medium_errors_are_imported_from_their_packages_only() -> None:
    for name in ("BlankTag", "CardLocked", "CardError", "MediumError", "TagUidMismatch"):
        assert not hasattr(errors, name)
        assert not hasattr(cityid_card, name)
