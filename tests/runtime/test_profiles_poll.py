"""profiles.localstack' --poll-s: the consumers' wait after an empty GetRecords is configurable and checked."""

from __future__ import annotations

import pytest

from profiles import localstack as profiles


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_poll_s_must_be_positive(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        profiles.main(["engine", "--profile", str(tmp_path / "p.json"), "--state", "s", "--poll-s", value])
    assert exit_.value.code == 2
    assert "--poll-s must be positive" in capsys.readouterr().err


def test_the_default_is_the_profiles_poll(tmp_path, capsys):
    # a valid --poll-s gets past the check: the next error is the missing profile file (exit 2, one line)
    code = profiles.main(["function", "score", "--profile", str(tmp_path / "p.json"), "--checkpoint", "c"])
    assert code == 2 and "cannot read the profile" in capsys.readouterr().err
    assert profiles.Pipeline.poll_s == profiles.POLL_S == 0.05
