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
        assert issubclass(cls, CityIDError) and len(cls.__bases__) == 1, cls  # no diamonds
        if cls is kinds.MediumError:
            assert cls.__bases__ == (CityIDError,)
            continue
        if issubclass(cls, kinds.NotAuthentic):  # a rejection: a CredentialError
            assert not issubclass(cls, kinds.MediumError)
            assert kinds.NotAuthentic.__bases__ == (CredentialError,)
        else:
            assert issubclass(cls, kinds.MediumError), cls
        error = (
            cls("m", sw=0x6A82, command="SELECT")
            if issubclass(cls, card_errors.ApduError)
            else cls("m")
        )
        assert getattr(error, "medium") == MODULES[module], cls  # noqa: B009


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


def test_the_card_and_tag_errors_live_in_their_packages_not_in_errors_py() -> None:
    for moved in ("BlankTag", "CardLocked", "CardError", "TagError", "ApduError"):
        assert not hasattr(errors, moved)
        assert not hasattr(cityid_card, moved)
