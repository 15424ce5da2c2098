"""The schema check every command makes first (models/db.py ``upgrade``): decided without
Alembic when the database is at the newest migration, through Alembic otherwise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from models.db import MIGRATIONS, head_revision, newest_migration

ROOT = Path(__file__).resolve().parents[1]


def test_each_migration_script_is_named_after_its_revision_so_the_newest_name_is_alembics_head():
    scripts = {Path(rev.path).name: rev.revision for rev in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    assert scripts
    for name, revision in scripts.items():
        assert re.fullmatch(r"\d{4}_\w+\.py", name), name
        assert name[:4] == revision, f"{name} holds revision {revision!r}: name it {revision}_...py"
    assert newest_migration() == head_revision()


def _loads_alembic(db_url: str) -> bool:
    code = f"import sys; from models.db import upgrade; upgrade({db_url!r}); print('alembic' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMAP_")} | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "True"


def test_a_command_on_an_up_to_date_database_does_not_load_alembic(db_url):
    assert not _loads_alembic(db_url)


def test_a_new_database_is_still_migrated_through_alembic(tmp_path):
    assert _loads_alembic(f"sqlite:///{tmp_path}/new.db")
