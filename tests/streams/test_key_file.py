"""The pseudonym key file (streams/settings.py): made once, whole, however many processes start at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from processors.errors import ConfigError
from streams.settings import KEY_FILE, _pseudonym_key


@pytest.mark.parametrize(("content", "error"), [
    (None, None),                                    # no file: one is made, and read back the next time
    ("ab" * 32 + "\n", None),                        # a key written by an earlier run
    ("", "holds 0 bytes, not a key"),                # cut short (a crash, or a copy that failed)
    ("ab" * 4, "holds 4 bytes, not a key"),
    ("not a hex key\n", "the pseudonym key file is not hex"),
])
def test_the_key_file_is_read_made_or_refused(tmp_path: Path, content: str | None, error: str | None) -> None:
    path = tmp_path / KEY_FILE
    if content is not None:
        path.write_text(content)
    if error is not None:
        with pytest.raises(ConfigError, match=error):
            _pseudonym_key("", tmp_path)
        return
    key, source = _pseudonym_key("", tmp_path)
    assert len(key.reveal()) == 32 and path.read_text().strip() == key.reveal().hex()
    assert source == (f"{path} (generated)" if content is None else str(path))
    assert _pseudonym_key("", tmp_path)[0].reveal() == key.reveal()   # the same key on the next start
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]         # no staging file left behind
    if content is None:
        assert path.stat().st_mode & 0o077 == 0                        # made readable by its owner only


def _key_of(data_dir: str) -> str:
    return _pseudonym_key("", Path(data_dir))[0].reveal().hex()


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    for attempt in range(5):   # a fresh directory each time: the race is in making the file
        data_dir = tmp_path / f"run-{attempt}"
        with multiprocessing.get_context("fork").Pool(8) as pool:
            keys = pool.map(_key_of, [str(data_dir)] * 16)
        assert len(set(keys)) == 1 and len(keys[0]) == 64, keys
        assert (data_dir / KEY_FILE).read_text().strip() == keys[0]
