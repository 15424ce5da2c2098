"""The one way a Jinja environment is made here (mail and web pages): strict about undefined
names, blocks trimmed, gettext installed (models/i18n.py), and templates compiled once per
machine rather than once per process.

Why the bytecode cache: every `roadmap` command that renders mail compiled its templates
again, about 0.1 s of CPU (all mail templates) in a run whose own rendering is often less.
Jinja's ``FileSystemBytecodeCache`` keeps the compiled code in a private folder of the
system's temporary directory (``_jinja2-cache-<uid>``, mode 0700, checked by Jinja), keyed by
the template's name, its file and the environment's settings (``_settings``), and checked
against its source, so an edited template (a user's folder too) is compiled again. Jinja
writes each entry to a temporary file and renames it, so runs at once never read half an
entry. A cache that cannot be made, read or written is no cache, not an error: the template
is then compiled as before.
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.bccache import Bucket

from models.i18n import install_gettext


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's cache, keyed by the environment's settings too: Jinja keys an entry by the
    template's name and file alone, so an environment with other settings (autoescape off, a
    new Jinja) would run code compiled for another one (unescaped HTML)."""

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None, source: str) -> Bucket:
        bucket = Bucket(environment, self.get_cache_key(name, f"{filename}|{_settings(environment, name)}"),
                        self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - a damaged entry (pickle, marshal): compiled again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # a full or read-only temporary directory
            pass


def _settings(env: jinja2.Environment, name: str) -> str:
    """What the compiled code of template ``name`` depends on besides its source."""
    autoescape = env.autoescape(name) if callable(env.autoescape) else env.autoescape
    return repr((jinja2.__version__, autoescape, env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline,
                 sorted(env.extensions), getattr(env, "newstyle_gettext", None),
                 env.policies.get("ext.i18n.trimmed"), env.block_start_string, env.variable_start_string,
                 env.comment_start_string, env.line_statement_prefix, env.line_comment_prefix))


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _BytecodeCache()
    except (OSError, RuntimeError):  # RuntimeError: Jinja found the folder unsafe (not ours, not 0700)
        return None


def environment(loader: jinja2.BaseLoader, *, autoescape: Any,
                keep_trailing_newline: bool = False) -> jinja2.Environment:
    """An environment over ``loader`` with the project's options and gettext."""
    env = jinja2.Environment(
        loader=loader,
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        bytecode_cache=_bytecode_cache(),
    )
    return install_gettext(env)
