"""The message catalogue, one module per surface (merged in ``bot.blocks.i18n``)."""

from typing import Literal

Locale = Literal["pt_BR", "en"]
