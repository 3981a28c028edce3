"""Every docstring example runs: the doctests of every module, imported by its package name
(``vigil.events.rules.fall``, not ``events.rules.fall`` as ``--doctest-modules`` would import the
top-level folders, which would define each class twice)."""

from __future__ import annotations

import doctest
import importlib
import io

import pytest
from layout import importable, modules

# Modules whose examples load real weights.
LOADS_WEIGHTS = {"vigil.detector.detector", "vigil.detector.compat"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(m, marks=[pytest.mark.slow] if m in LOADS_WEIGHTS else [])
        for m in modules()
        if importable(m)
    ],
)
def test_docstring_examples(name: str, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in finder.find(module, name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
