"""The ablation takes the fraud chains' gap as a parameter: its default is the generator's, and the
training job does not import the simulator to know it."""

from __future__ import annotations

import subprocess
import sys


def test_the_default_chain_gap_is_the_generators():
    from jobs.training import ablation
    from simulator.generate import CHAIN_GAP_SECONDS

    assert ablation.CHAIN_GAP_S == CHAIN_GAP_SECONDS


def test_the_ablation_does_not_import_the_simulator():
    check = "import sys, jobs.training.ablation; print(sorted(m for m in sys.modules if m.startswith('simulator')))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
