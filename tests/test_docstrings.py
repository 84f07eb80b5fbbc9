"""The API page is KSweep's docstring: it lists every parameter, with the options the
code accepts."""

import inspect
import re

from ksweep import KSweep
from ksweep._choosing import SCORING_NAMES, SELECTION_NAMES


def _parameters(doc: str) -> dict[str, str]:
    """name -> its entry (type line and description) of a numpydoc Parameters section."""
    section = doc.split("Parameters\n    ----------\n", 1)[1].split("\n    Attributes\n", 1)[0]
    entries = re.split(r"\n    (?=\w+ : )", "\n" + section)
    return {entry.split(" : ", 1)[0].strip(): entry for entry in entries if " : " in entry}


def test_every_parameter_is_documented_in_order():
    documented = list(_parameters(KSweep.__doc__))
    assert documented == [name for name in inspect.signature(KSweep).parameters]
    assert set(documented) == set(KSweep().get_params(deep=False))


def test_selection_and_scoring_entries_name_every_option_the_code_takes():
    entries = _parameters(KSweep.__doc__)
    for name in SELECTION_NAMES:
        assert f'"{name}"' in entries["selection"], name
    for name in SCORING_NAMES:
        assert f'"{name}"' in entries["scoring"], name
    assert "selection(k, results)" in entries["selection"]
